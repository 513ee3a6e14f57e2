/* Holds (worker.h, above tl_rx_slot): which of a receive session's datagrams the worker hands the Python core
 * while its reassembler has partial frames, and when the worker takes the session back. The lock held. */
#include "worker.h"

static uint64_t frame_end(const tl_header *h)
{
    return h->counter - h->fidx + h->fcnt - 1;
}

/* Datagram h of the slot's session went up as a fragment the core reassembles: hold (tl_rx_slot). */
void tl_hold(tl_worker *w, tl_rx_slot *s, const tl_header *h)
{
    uint64_t limit = frame_end(h) + w->loss_hold;
    if (!s->holding || limit > s->hold_limit)
        s->hold_limit = limit;
    s->holding = 1;
    if (h->counter + 1 > s->up_next)
        s->up_next = h->counter + 1;
}

/* An install: each session keeps its hold, widened to what the core asks for (asked[i]: it asked, with
 * now[i].hold_limit); a limit the worker has handed up already is not asked again. */
void tl_holds_installed(const tl_rx_slot old[TL_RX_SLOTS], tl_rx_slot now[TL_RX_SLOTS], const int asked[TL_RX_SLOTS])
{
    for (int i = 0; i < TL_RX_SLOTS; i++) {
        uint64_t want = now[i].hold_limit;
        now[i].holding = 0;
        now[i].hold_limit = now[i].up_next = 0;
        for (int j = 0; j < TL_RX_SLOTS && now[i].s != NULL; j++)
            if (old[j].s != NULL && old[j].index == now[i].index) {
                now[i].holding = old[j].holding;
                now[i].hold_limit = old[j].hold_limit;
                now[i].up_next = old[j].up_next;
            }
        if (asked[i] && (now[i].holding ? want > now[i].hold_limit : want >= now[i].up_next)) {
            now[i].holding = 1;
            now[i].hold_limit = want;
        }
    }
}

/* Does the core still need this datagram of the slot's session? Widens the hold at a gap; ends it after the
 * limit, at a frame's start. */
int tl_held(tl_worker *w, tl_rx_slot *s, const tl_header *h)
{
    if (!s->holding)
        return 0;
    if (h->counter > s->up_next) { /* counters up_next .. counter - 1 did not come (yet): a partial frame */
        tl_hold(w, s, h);
        return 1;
    }
    if (h->counter > s->hold_limit && h->fidx == 0) {
        s->holding = 0;
        return 0;
    }
    if (h->counter > s->hold_limit) /* the rest of the frame the limit falls in, too */
        s->hold_limit = frame_end(h);
    if (h->counter + 1 > s->up_next)
        s->up_next = h->counter + 1;
    return 1;
}
