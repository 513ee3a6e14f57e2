/* tapliance.fastpath._fast: the compiled data path's Python face (issue 16; docs/architecture.md).
 *
 *   ReplayWindow()                         the RFC 6479 window, same methods and results as proto/replay.py
 *   Session(suite_id, send_key, recv_key, replay)
 *     .seal(frame, max_chunk, flags, remote) -> (bytearray, seg, count)   Keypair.seal_frame, next counters
 *     .counter, .sent_bytes                          the next send counter, the bytes sealed
 *     .open(datagram, expired) -> bytes | int        one datagram: the plaintext, or a tl_verdict drop code
 *     .open_run(buffer, off, seg) -> bytearray | None  a whole frame run of a GRO batch, or None (unchanged)
 *
 *   Worker(...)                                    the worker thread (wmodule.c, worker.h)
 *
 * The protocol logic is core.c's; this file converts arguments. Crypto on more than NOGIL_BYTES runs with
 * the GIL released; a session may be used by the loop and a worker at once (session.h's locks). */
#include "pyfast.h"

#define NOGIL_BYTES 4096

static PyTypeObject ReplayType;

int u64_arg(PyObject *o, uint64_t *v)
{
    unsigned long long x = PyLong_AsUnsignedLongLong(o);
    if (x == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *v = (uint64_t)x;
    return 0;
}

int nargs_ok(Py_ssize_t n, Py_ssize_t want, const char *name)
{
    if (n == want)
        return 1;
    PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", name, want, n);
    return 0;
}

/* -- ReplayWindow ---------------------------------------------------------------------------------------- */

static PyObject *replay_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kw != NULL && PyDict_GET_SIZE(kw) != 0))
        return PyErr_Format(PyExc_TypeError, "ReplayWindow() takes no arguments");
    ReplayObject *self = (ReplayObject *)type->tp_alloc(type, 0);
    if (self != NULL)
        tl_replay_init(&self->w);
    return (PyObject *)self;
}

static PyObject *replay_check(ReplayObject *self, PyObject *arg)
{
    uint64_t c;
    if (u64_arg(arg, &c) != 0)
        return NULL;
    return PyBool_FromLong(tl_replay_check(&self->w, c));
}

static PyObject *replay_commit(ReplayObject *self, PyObject *arg)
{
    uint64_t c;
    if (u64_arg(arg, &c) != 0)
        return NULL;
    return PyBool_FromLong(tl_replay_commit(&self->w, c));
}

static int run_args(PyObject *const *args, Py_ssize_t n, const char *name, uint64_t *first, unsigned *count)
{
    uint64_t k;
    if (!nargs_ok(n, 2, name) || u64_arg(args[0], first) != 0 || u64_arg(args[1], &k) != 0)
        return -1;
    if (k > TL_MAX_FRAGMENTS) {
        PyErr_SetString(PyExc_ValueError, "a run has at most 255 counters");
        return -1;
    }
    *count = (unsigned)k;
    return 0;
}

static PyObject *replay_check_run(ReplayObject *self, PyObject *const *args, Py_ssize_t n)
{
    uint64_t first;
    unsigned count;
    if (run_args(args, n, "check_run", &first, &count) != 0)
        return NULL;
    return PyBool_FromLong(tl_replay_check_run(&self->w, first, count));
}

static PyObject *replay_commit_run(ReplayObject *self, PyObject *const *args, Py_ssize_t n)
{
    uint64_t first;
    unsigned count;
    if (run_args(args, n, "commit_run", &first, &count) != 0)
        return NULL;
    tl_replay_commit_run(&self->w, first, count);
    Py_RETURN_NONE;
}

static PyObject *replay_last(ReplayObject *self, void *closure)
{
    (void)closure;
    return self->w.any ? PyLong_FromUnsignedLongLong(self->w.last) : PyLong_FromLong(-1);
}

static PyMethodDef replay_methods[] = {
    {"check", (PyCFunction)replay_check, METH_O, "True if the counter is neither too old nor already seen."},
    {"commit", (PyCFunction)replay_commit, METH_O, "Mark the counter seen; False if it was not acceptable."},
    {"check_run", (PyCFunction)(void (*)(void))replay_check_run, METH_FASTCALL, "check() for a run."},
    {"commit_run", (PyCFunction)(void (*)(void))replay_commit_run, METH_FASTCALL, "commit() a checked run."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef replay_getset[] = {
    {"last", (getter)replay_last, NULL, "highest counter committed; -1: nothing yet", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* -- Session --------------------------------------------------------------------------------------------- */

static int key_arg(PyObject *o, const uint8_t **key)
{
    if (!PyBytes_Check(o) || PyBytes_GET_SIZE(o) != 32) {
        PyErr_SetString(PyExc_ValueError, "a key is 32 bytes");
        return -1;
    }
    *key = (const uint8_t *)PyBytes_AS_STRING(o);
    return 0;
}

static PyObject *session_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    int suite;
    PyObject *send_key, *recv_key;
    ReplayObject *replay;
    const uint8_t *sk, *rk;
    static char *names[] = {"suite_id", "send_key", "recv_key", "replay", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iOOO!", names, &suite, &send_key, &recv_key, &ReplayType, &replay))
        return NULL;
    if (key_arg(send_key, &sk) != 0 || key_arg(recv_key, &rk) != 0)
        return NULL;
    SessionObject *self = (SessionObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    Py_INCREF(replay);
    self->replay = replay;
    self->inited = 1;
    if (tl_session_init(&self->s, suite, sk, rk, &replay->w) != 0) {
        Py_DECREF(self);
        return PyErr_Format(PyExc_ValueError, "suite %d: no such data AEAD in libcrypto", suite);
    }
    return (PyObject *)self;
}

static void session_dealloc(SessionObject *self)
{
    if (self->inited)
        tl_session_free(&self->s);
    Py_XDECREF(self->replay);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

#define CRYPTO(nbytes, call)                                                                              \
    do {                                                                                                  \
        if ((nbytes) >= NOGIL_BYTES) {                                                                    \
            Py_BEGIN_ALLOW_THREADS rc = (call);                                                           \
            Py_END_ALLOW_THREADS                                                                          \
        } else {                                                                                          \
            rc = (call);                                                                                  \
        }                                                                                                 \
    } while (0)

static PyObject *session_seal(SessionObject *self, PyObject *const *args, Py_ssize_t n)
{
    Py_buffer frame;
    uint64_t max_chunk, flags, remote;
    unsigned count;
    size_t size, seg;
    int rc;
    if (!nargs_ok(n, 4, "seal") || u64_arg(args[1], &max_chunk) || u64_arg(args[2], &flags) || u64_arg(args[3], &remote))
        return NULL;
    if (flags > 255 || remote > UINT32_MAX)
        return PyErr_Format(PyExc_OverflowError, "flags is a byte, the receiver index 32 bits");
    if (PyObject_GetBuffer(args[0], &frame, PyBUF_SIMPLE) != 0)
        return NULL;
    size_t len = (size_t)frame.len;
    if (tl_layout(len, (size_t)max_chunk, &count, &size) != 0) {
        PyBuffer_Release(&frame);
        return PyErr_Format(PyExc_ValueError, "frame of %zu bytes needs more than %d fragments", len, TL_MAX_FRAGMENTS);
    }
    size_t out_len = len + (size_t)TL_OVERHEAD * count;
    PyObject *out = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)out_len);
    if (out == NULL) {
        PyBuffer_Release(&frame);
        return NULL;
    }
    uint8_t *dst = (uint8_t *)PyByteArray_AS_STRING(out);
    CRYPTO(len, tl_session_seal(&self->s, 0, frame.buf, len, (size_t)max_chunk, (uint8_t)flags, (uint32_t)remote,
                                dst, out_len, &seg, &count));
    PyBuffer_Release(&frame);
    if (rc != 0) {
        Py_DECREF(out);
        return PyErr_Format(PyExc_RuntimeError, "libcrypto refused to seal");
    }
    return Py_BuildValue("(Nnn)", out, (Py_ssize_t)seg, (Py_ssize_t)count);
}

static PyObject *session_open(SessionObject *self, PyObject *const *args, Py_ssize_t n)
{
    Py_buffer dgram;
    int rc;
    if (!nargs_ok(n, 2, "open") || PyObject_GetBuffer(args[0], &dgram, PyBUF_SIMPLE) != 0)
        return NULL;
    int expired = PyObject_IsTrue(args[1]);
    size_t len = (size_t)dgram.len;
    PyObject *out = NULL;
    if (expired < 0 || len < TL_OVERHEAD) {
        if (expired >= 0)
            PyErr_SetString(PyExc_ValueError, "a data datagram is at least 32 bytes");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(len - TL_OVERHEAD));
    if (out == NULL)
        goto fail;
    CRYPTO(len, tl_session_open_one(&self->s, dgram.buf, len, expired, (uint8_t *)PyBytes_AS_STRING(out),
                                    len - TL_OVERHEAD));
    if (rc == TL_OK)
        goto done;
    Py_DECREF(out);
    out = PyLong_FromLong(rc);
    goto done;
fail:
    Py_CLEAR(out);
done:
    PyBuffer_Release(&dgram);
    return out;
}

static PyObject *session_open_run(SessionObject *self, PyObject *const *args, Py_ssize_t n)
{
    Py_buffer buf;
    Py_ssize_t off, seg;
    unsigned fcnt;
    int rc;
    if (!nargs_ok(n, 3, "open_run") || (off = PyLong_AsSsize_t(args[1])) < 0 || (seg = PyLong_AsSsize_t(args[2])) < 0)
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "offsets are not negative");
    if (PyObject_GetBuffer(args[0], &buf, PyBUF_SIMPLE) != 0)
        return NULL;
    PyObject *out = NULL;
    long size = tl_run_size(buf.buf, (size_t)buf.len, (size_t)off, (size_t)seg, &fcnt);
    if (size < 0) {
        out = Py_NewRef(Py_None);
        goto done;
    }
    out = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (out == NULL)
        goto done;
    CRYPTO((size_t)size, tl_session_open_run(&self->s, buf.buf, (size_t)buf.len, (size_t)off, (size_t)seg,
                                             (uint8_t *)PyByteArray_AS_STRING(out), (size_t)size));
    if (rc != TL_OK) {
        Py_DECREF(out);
        out = Py_NewRef(Py_None);
    }
done:
    PyBuffer_Release(&buf);
    return out;
}

static PyObject *session_replay(SessionObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef((PyObject *)self->replay);
}

static PyMethodDef session_methods[] = {
    {"seal", (PyCFunction)(void (*)(void))session_seal, METH_FASTCALL, "Seal a frame: (buffer, seg, count)."},
    {"open", (PyCFunction)(void (*)(void))session_open, METH_FASTCALL, "Open one datagram: bytes or a drop code."},
    {"open_run", (PyCFunction)(void (*)(void))session_open_run, METH_FASTCALL, "Open a frame run, or None."},
    {NULL, NULL, 0, NULL},
};

static PyObject *session_counter(SessionObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(tl_session_counter(&self->s));
}

static int session_set_counter(SessionObject *self, PyObject *value, void *closure)
{
    uint64_t c;
    (void)closure;
    if (value == NULL || u64_arg(value, &c) != 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "the counter cannot be deleted");
        return -1;
    }
    tl_session_set_counter(&self->s, c);
    return 0;
}

static PyObject *session_sent_bytes(SessionObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(self->s.sent_bytes);
}

static PyGetSetDef session_getset[] = {
    {"replay", (getter)session_replay, NULL, "the session's replay window", NULL},
    {"counter", (getter)session_counter, (setter)session_set_counter, "the next send counter", NULL},
    {"sent_bytes", (getter)session_sent_bytes, NULL, "bytes of frames sealed", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* -- the module ------------------------------------------------------------------------------------------ */

static PyTypeObject ReplayType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tapliance.fastpath._fast.ReplayWindow",
    .tp_basicsize = sizeof(ReplayObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "RFC 6479 anti-replay window (the compiled twin of tapliance.proto.replay.ReplayWindow)",
    .tp_new = replay_new,
    .tp_methods = replay_methods,
    .tp_getset = replay_getset,
};

PyTypeObject SessionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tapliance.fastpath._fast.Session",
    .tp_basicsize = sizeof(SessionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "one keypair's data path: send and receive AEAD contexts and its replay window",
    .tp_new = session_new,
    .tp_dealloc = (destructor)session_dealloc,
    .tp_methods = session_methods,
    .tp_getset = session_getset,
};

static struct PyModuleDef fastmodule = {
    PyModuleDef_HEAD_INIT, .m_name = "tapliance.fastpath._fast", .m_doc = "tapliance's compiled data path",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__fast(void)
{
    if (PyType_Ready(&ReplayType) < 0 || PyType_Ready(&SessionType) < 0 || PyType_Ready(&WorkerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&fastmodule);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "ReplayWindow", (PyObject *)&ReplayType) < 0
        || PyModule_AddObjectRef(m, "Session", (PyObject *)&SessionType) < 0
        || PyModule_AddObjectRef(m, "Worker", (PyObject *)&WorkerType) < 0
        || PyModule_AddIntConstant(m, "WINDOW", (long)TL_WINDOW) < 0
        || PyModule_AddIntConstant(m, "OVERHEAD", TL_OVERHEAD) < 0
        || PyModule_AddIntConstant(m, "SMALL", TL_SMALL) < 0
        || PyModule_AddObjectRef(m, "SODIUM", tl_sodium_load() ? Py_True : Py_False) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
