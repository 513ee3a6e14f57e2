/* One keypair's data path, shared by the interpreter's thread and the worker thread (worker.c): the two AEAD
 * contexts, the replay window, the send counter and the bytes sealed. An EVP context is not safe to use from
 * two threads at once, so sealing (context, counter) and opening (context, window) each take their lock;
 * the two directions never wait for each other. */
#ifndef TAPLIANCE_FASTPATH_SESSION_H
#define TAPLIANCE_FASTPATH_SESSION_H

#include <pthread.h>

#include "core.h"

#define TL_QUEUES 2 /* send contexts: one per TAP queue's worker (the first is also the interpreter's) */

typedef struct {
    tl_aead send[TL_QUEUES], recv;
    tl_replay *window; /* the ReplayWindow object's, which outlives the session */
    uint64_t counter;  /* next send counter */
    uint64_t sent_bytes;
    pthread_mutex_t send_lock, recv_lock; /* send_lock: the counter and bytes; each send context has its own */
    pthread_mutex_t seal_lock[TL_QUEUES];
} tl_session;

int tl_session_init(tl_session *s, int suite_id, const uint8_t send_key[32], const uint8_t recv_key[32],
                    tl_replay *window);
void tl_session_free(tl_session *s);

/* Seal a frame of n bytes under the next counters (tl_seal_frame) with queue's send context; *count: how many
 * it took. The counters are taken first, under send_lock, so two queues seal at once (the receiver's replay
 * window takes counters in any order). */
int tl_session_seal(tl_session *s, int queue, const uint8_t *frame, size_t n, size_t max_chunk, uint8_t flags,
                    uint32_t remote, uint8_t *out, size_t out_len, size_t *seg, unsigned *count);
int tl_session_open_one(tl_session *s, const uint8_t *dgram, size_t len, int expired, uint8_t *out, size_t out_len);
int tl_session_open_run(tl_session *s, const uint8_t *buf, size_t len, size_t off, size_t seg, uint8_t *out,
                        size_t out_len);
uint64_t tl_session_counter(tl_session *s);
void tl_session_set_counter(tl_session *s, uint64_t counter);

#endif
