// The LogSource interface is header-only; this unit makes the library linkable and
// checks that the header is self-contained.
#include "broker/log_source.h"
