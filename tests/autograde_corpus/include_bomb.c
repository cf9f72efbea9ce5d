/* An include bomb: the file includes itself twice at every level, 2^40 times
 * in all. The compiler is stopped at its time limit. */
#if __INCLUDE_LEVEL__ < 40
#include __FILE__
#include __FILE__
#endif
int bomb_level_done;
