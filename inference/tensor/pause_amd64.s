#include "textflag.h"

// func spinPause()
//
// One PAUSE: a spinning core's hint to give way to a sibling thread and to leave its memory
// ordering machinery alone while it waits.
TEXT ·spinPause(SB), NOSPLIT, $0-0
	PAUSE
	RET
