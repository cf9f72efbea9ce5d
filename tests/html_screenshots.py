#!/usr/bin/env python3
"""html_screenshots.py LESSON_DIR OUT_DIR: the README's pictures of the --html
page, taken with the headless Chromium the browser test uses (not a test):
chain_rule's page at a step of each part, 1000x700 PNG.
    /usr/bin/python3 tests/html_screenshots.py build/lessons docs"""
import os
import subprocess
import sys
import tempfile
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# (step, file): a forward-pass row, a forward-mode row, a Version B increment
SHOTS = [(4, "html_chain_rule_forward.png"), (10, "html_chain_rule_tangent.png"), (17, "html_chain_rule_reverse.png")]


def main():
    lessons, out = sys.argv[1], sys.argv[2]
    page = os.path.join(tempfile.mkdtemp(), "chain_rule.html")
    subprocess.run([os.path.join(lessons, "chain_rule"), "--html", page], check=True, stdout=subprocess.DEVNULL)
    opts = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,700", "--hide-scrollbars"]:
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        for step, name in SHOTS:
            driver.get("file://%s#step=%d" % (page, step))
            driver.save_screenshot(os.path.join(out, name))
            print(os.path.join(out, name))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
