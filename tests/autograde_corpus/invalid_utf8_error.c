/* An #error whose text is not UTF-8: the report must stay valid UTF-8 JSON. */
#error "bad bytes: ÿþÃ( í € end"
