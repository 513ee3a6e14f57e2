/* The compiled data path's protocol core (issue 16): data headers, the replay window, sealing and opening
 * data datagrams with OpenSSL's EVP AEADs. Plain C, no Python: module.c wraps it for the interpreter and
 * tests/fuzz/fuzz_core.c drives it under AddressSanitizer and UBSan.
 *
 * Every function that reads a datagram takes the buffer and its length and checks every offset itself;
 * nothing trusts a length the caller computed. The wire format is docs/protocol.md, "Data (type 4)"; the
 * constants mirror tapliance/proto/native/wire.py and tapliance/proto/replay.py (tests compare them). */
#ifndef TAPLIANCE_FASTPATH_CORE_H
#define TAPLIANCE_FASTPATH_CORE_H

#include <stddef.h>
#include <stdint.h>

#define TL_HEADER_LEN 16
#define TL_TAG_LEN 16
#define TL_OVERHEAD (TL_HEADER_LEN + TL_TAG_LEN)
#define TL_MSG_DATA 4
#define TL_FLAGS_KNOWN 0x03
#define TL_MAX_FRAGMENTS 255
#define TL_BLOCKS 128 /* replay ring words; a power of two */
#define TL_WINDOW ((uint64_t)(TL_BLOCKS - 1) * 64)

enum tl_verdict { TL_OK = 0, TL_REPLAY = 1, TL_EXPIRED = 2, TL_DECRYPT = 3, TL_NOT_RUN = 4, TL_ERROR = 5 };

typedef struct {
    uint8_t type, flags, fidx, fcnt;
    uint32_t receiver;
    uint64_t counter;
} tl_header;

typedef struct {
    uint64_t ring[TL_BLOCKS];
    uint64_t last; /* highest counter committed, if any */
    int any;       /* 0: nothing committed yet (Python's last == -1) */
} tl_replay;

typedef struct {
    void *ctx; /* EVP_CIPHER_CTX *, keyed once */
    int suite; /* 1 ChaCha20-Poly1305, 2 AES-256-GCM */
    uint8_t key[32]; /* for libsodium's small messages (sodium.c) */
} tl_aead;

int tl_header_read(const uint8_t *buf, size_t len, tl_header *h);
void tl_header_write(uint8_t *buf, const tl_header *h);

void tl_replay_init(tl_replay *w);
int tl_replay_check(const tl_replay *w, uint64_t counter);
int tl_replay_commit(tl_replay *w, uint64_t counter);
int tl_replay_check_run(const tl_replay *w, uint64_t first, unsigned count);
void tl_replay_commit_run(tl_replay *w, uint64_t first, unsigned count);

int tl_aead_init(tl_aead *a, int suite_id, const uint8_t key[32], int encrypt);
void tl_aead_free(tl_aead *a);

/* sodium.c: ChaCha20-Poly1305 messages of at most TL_SMALL bytes through libsodium where it loads (lower cost
 * after idle). tl_small_*: 0 done, -1 failed (a forgery), 1 not taken (use EVP). */
#define TL_SMALL 256
int tl_sodium_load(void);
int tl_small_seal(const tl_aead *a, const uint8_t nonce[12], const uint8_t *ad, const uint8_t *in, size_t n,
                  uint8_t *out);
int tl_small_open(const tl_aead *a, const uint8_t nonce[12], const uint8_t *ad, const uint8_t *in, size_t m,
                  const uint8_t tag[16], uint8_t *out);

/* Frames out: how a frame of n bytes is split (fragments.layout), and the sealed buffer (UDP GSO layout). */
int tl_layout(size_t n, size_t max_chunk, unsigned *count, size_t *size);
int tl_seal_frame(tl_aead *a, const uint8_t *frame, size_t n, size_t max_chunk, uint8_t flags, uint32_t remote,
                  uint64_t first, uint8_t *out, size_t out_len, size_t *seg);

/* Datagrams in. tl_open_one: one datagram into out (len - TL_OVERHEAD bytes). tl_run_size / tl_open_run: a
 * whole in-order frame run of a GRO batch (the first datagram at off), opened into one frame buffer. */
int tl_open_one(tl_aead *a, tl_replay *w, const uint8_t *dgram, size_t len, int expired, uint8_t *out,
                size_t out_len);
long tl_run_size(const uint8_t *buf, size_t len, size_t off, size_t seg, unsigned *fcnt);
int tl_open_run(tl_aead *a, tl_replay *w, const uint8_t *buf, size_t len, size_t off, size_t seg, uint8_t *out,
                size_t out_len);

#endif
