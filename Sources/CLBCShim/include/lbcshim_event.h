/* Public C structs of include/lbchannel.h filled from C compiled against that header,
 * so their layout is the C compiler's, not offsets written down in Swift.
 * Not part of the public API. */
#ifndef LBCSHIM_EVENT_H
#define LBCSHIM_EVENT_H
#include <stddef.h>

/** Smallest `event_size` lbc_cq_poll accepts: the end of the last field of 1.0's lbc_event. */
size_t lbcshim_event_min_size(void);

/**
 * Fill slot `index` of the caller's array of events of `event_size` bytes each:
 * the fields this library knows that fit in `event_size`, the rest of the slot zeroed.
 * `event_size` must be >= lbcshim_event_min_size().
 */
void lbcshim_fill_event(void *events, size_t event_size, int index, void *tag, int kind,
                        unsigned flags, void *response);

/**
 * Fill slot `index` with an LBC_EVENT_CONNECTIVITY event: `state`, `old_state` and a
 * malloc'd copy of `address` (NULL: none), each only if `event_size` covers its field.
 * Returns 0, or -1 when the copy of `address` failed (the field is then NULL).
 */
int lbcshim_fill_connectivity_event(void *events, size_t event_size, int index, void *tag,
                                    unsigned flags, int state, int old_state, const char *address);
#endif
