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
/* Appended for connectivity events: state, old_state, address. */
_Static_assert(offsetof(lbc_event, state) == 3 * sizeof(void *), "lbc_event.state moved");
_Static_assert(offsetof(lbc_event, old_state) == 3 * sizeof(void *) + sizeof(int), "lbc_event.old_state moved");
_Static_assert(offsetof(lbc_event, address) == 3 * sizeof(void *) + 2 * sizeof(int), "lbc_event.address moved");
_Static_assert(sizeof(lbc_event) == 4 * sizeof(void *) + 2 * sizeof(int), "lbc_event grew without a note here");
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

int lbcshim_fill_connectivity_event(void *events, size_t event_size, int index, void *tag,
                                    unsigned flags, int state, int old_state, const char *address) {
  lbcshim_fill_event(events, event_size, index, tag, LBC_EVENT_CONNECTIVITY, flags, NULL);
  unsigned char *slot = (unsigned char *)events + (size_t)index * event_size;
  lbc_event *ev = (lbc_event *)slot;
  if (event_size >= offsetof(lbc_event, old_state) + sizeof(int)) {
    ev->state = state;
    ev->old_state = old_state;
  }
  if (address != NULL && event_size >= offsetof(lbc_event, address) + sizeof(char *)) {
    ev->address = strdup(address);
    if (ev->address == NULL) return -1;
  }
  return 0;
}
