/* lbc_event filled by the C compiler's layout (see lbcshim_event.h). */
#include "lbcshim_event.h"
#include "lbchannel.h"
#include <string.h>

/* The 1.0 layout is frozen: later versions only append fields. A change here is an
 * ABI break, and these make it a build error instead of silent corruption. */
_Static_assert(offsetof(lbc_event, tag) == 0, "lbc_event.tag moved");
_Static_assert(offsetof(lbc_event, kind) == sizeof(void *), "lbc_event.kind moved");
_Static_assert(offsetof(lbc_event, flags) == sizeof(void *) + sizeof(int), "lbc_event.flags moved");
_Static_assert(offsetof(lbc_event, response) == 2 * sizeof(void *), "lbc_event.response moved");
_Static_assert(sizeof(lbc_event) == 3 * sizeof(void *), "lbc_event grew without a version");
_Static_assert(LBC_EVENT_MIN_SIZE == offsetof(lbc_event, response) + sizeof(lbc_response *),
               "LBC_EVENT_MIN_SIZE is not the end of lbc_event's 1.0 fields");

size_t lbcshim_event_min_size(void) { return LBC_EVENT_MIN_SIZE; }

void lbcshim_fill_event(void *events, size_t event_size, int index, void *tag, int kind,
                        unsigned flags, void *response) {
  lbc_event ev;
  memset(&ev, 0, sizeof ev);
  ev.tag = tag;
  ev.kind = kind;
  ev.flags = flags;
  ev.response = (lbc_response *)response;
  unsigned char *slot = (unsigned char *)events + (size_t)index * event_size;
  size_t n = event_size < sizeof ev ? event_size : sizeof ev;
  memcpy(slot, &ev, n);
  if (event_size > n) memset(slot + n, 0, event_size - n);
}
