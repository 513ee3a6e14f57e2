/* Frame runs collected across receive calls (worker.h, "run_*"): the worker thread's answer to an underlay
 * without GRO, where every fragment of a super-frame arrives in its own receive call, and to GRO batches
 * that end in the middle of a frame.
 *
 * The datagrams are copied as they came, unopened, at a stride of the first one's length, until the frame's
 * last fragment arrives: then the whole run is opened at once (tl_open_run: one replay check, every datagram
 * authenticated with its own header, one commit), exactly as if it had come in one GRO batch. Anything else
 * from the peer's session (a gap, another frame, a single-datagram frame, a forged or replayed run, an
 * install that withdraws the run's session) hands the collected datagrams up unchanged, in order, followed by
 * what interrupted them, and holds the session (worker.h, tl_rx_slot): the Python core reassembles from there
 * (its rules for loss, reordering and salvage stay the only ones). A run left incomplete for
 * TL_RUN_WAIT goes up the same way (worker.c's epoll timeout). A run collected while the core holds the session
 * is not opened here: whole, it goes up as one item (TL_UP_RUN), which the core opens as a GRO batch's.
 * Unauthenticated bytes are only ever copied; memory: one buffer of TL_RECV_SIZE. */
#include <string.h>

#include "worker.h"

void tl_run_flush(tl_worker *w)
{
    if (w->run_have == 0)
        return;
    for (unsigned i = 0; i < w->run_have; i++) {
        size_t o = (size_t)i * w->run_seg;
        size_t n = w->run_len - o < w->run_seg ? w->run_len - o : w->run_seg;
        tl_hand_up(w, TL_UP_DATAGRAM, w->run_buf + o, n, &w->run_src);
    }
    w->n[TL_N_RUNS_HANDED_UP]++;
    tl_header last = w->run_h; /* the core has a partial frame now: it needs what follows, for a while */
    last.fidx = (uint8_t)(w->run_have - 1);
    last.counter += w->run_have - 1;
    tl_rx_slot *slot = tl_slot_for(w, w->run_h.receiver);
    if (slot != NULL && !w->run_held) /* (a held run's datagrams were counted by tl_held as they came) */
        tl_hold(w, slot, &last);
    w->run_have = 0;
    w->run_len = 0;
}

/* Does datagram d (header h, len bytes) continue the run being collected? */
static int continues(const tl_worker *w, const tl_header *h, size_t len)
{
    const tl_header *r = &w->run_h;
    if (h->receiver != r->receiver || h->fcnt != r->fcnt || h->flags != r->flags || h->fidx != w->run_have
        || h->counter != r->counter + w->run_have)
        return 0;
    return h->fidx + 1 < h->fcnt ? len == w->run_seg : len <= w->run_seg;
}

static void append(tl_worker *w, const uint8_t *d, size_t len)
{
    memcpy(w->run_buf + w->run_len, d, len);
    w->run_len += len;
    w->run_have++;
}

/* The run is whole: open it like a GRO batch's (returns the frame's size), or hand it up (returns -1). */
static long finish(tl_worker *w, tl_rx_slot *slot, double now)
{
    unsigned fcnt;
    long size = tl_run_size(w->run_buf, w->run_len, 0, w->run_seg, &fcnt);
    if (slot == NULL || now >= slot->until || size < 0
        || tl_session_open_run(slot->s, w->run_buf, w->run_len, 0, w->run_seg, w->open_buf + TL_VNET_HDR,
                               (size_t)size)
               != TL_OK) {
        tl_run_flush(w); /* the core finds and counts what is wrong, datagram by datagram */
        return -1;
    }
    w->n[TL_N_RUNS_JOINED]++;
    w->run_have = 0;
    w->run_len = 0;
    return size;
}

long tl_run_take(tl_worker *w, const uint8_t *d, size_t len, const tl_header *h, tl_rx_slot *slot,
                 const struct sockaddr_storage *src, double now, int held)
{
    if (w->run_have != 0 && (!continues(w, h, len) || held != w->run_held)) {
        tl_run_flush(w);
        if (!held) /* the core holds the session now: what interrupted goes up alone */
            return TL_RUN_NOT_MINE;
    }
    if (w->run_have == 0) {
        if (h->fidx != 0 || h->fcnt < 2 || (size_t)h->fcnt * len > TL_RECV_SIZE)
            return TL_RUN_NOT_MINE;
        w->run_h = *h;
        w->run_seg = len;
        w->run_src = *src;
        w->run_since = now;
        w->run_held = held;
        append(w, d, len);
        return TL_RUN_HELD;
    }
    append(w, d, len);
    if (w->run_have < w->run_h.fcnt)
        return TL_RUN_HELD;
    if (held) { /* whole: the core opens it */
        tl_hand_up_run(w, w->run_buf, w->run_len, w->run_seg, &w->run_src);
        w->run_have = 0;
        w->run_len = 0;
        return TL_RUN_HELD;
    }
    long size = finish(w, slot, now);
    return size < 0 ? TL_RUN_HELD : size; /* handed up: nothing more to do with d either */
}

void tl_run_check(tl_worker *w, double now)
{
    if (w->run_have && now - w->run_since >= TL_RUN_WAIT)
        tl_run_flush(w);
}

void tl_run_installed(tl_worker *w)
{
    if (w->run_have == 0)
        return;
    tl_rx_slot *slot = tl_slot_for(w, w->run_h.receiver);
    if (slot == NULL || (slot->holding && !w->run_held) || w->python_rx || !tl_same_addr(&w->run_src, &w->peer))
        tl_run_flush(w);
}
