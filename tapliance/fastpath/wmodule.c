/* tapliance.fastpath._fast.Worker: the worker thread's Python face (worker.h; runtime/worker.py drives it).
 *
 *   Worker(tap_fd, sock_fd, tap_vnet, gso, max_chunk, loss_hold=1024, queue=0)   loss_hold: worker.h
 *       TL_LOSS_HOLD; queue: a multi-queue TAP's queue past the first sends only, with its own context
 *     .fileno()        an eventfd, readable when items wait in the hand-up queue
 *     .start(), .stop()
 *     .install(tx, remote, until, host, port, rx, python_rx)   what the worker may use (None/[]: nothing)
 *         tx: the send Session or None; rx: up to 3 (local index, Session, until[, hold]); host None: no
 *         endpoint; hold (worker.h tl_rx_slot): None, or the counter up to which the core needs datagrams
 *     .take() -> [(kind, bytes, (host, port) | None, seg)]   kind 0: a TAP frame, 1: a datagram, 2: a frame for
 *         the TAP, 3: a held frame run of datagrams seg bytes apart (a GRO batch's layout; seg 0 for the rest)
 *     .stats() -> dict        counts since the last call (then reset), and the last send/receive times
 *
 * The worker holds a reference to every Session it was given, so none goes while the thread may use it. */
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include "pyfast.h"
#include "worker.h"

typedef struct {
    PyObject_HEAD
    tl_worker w;
    int inited;
    PyObject *held; /* the installed Sessions */
} WorkerObject;

static const char *count_names[TL_N_COUNT] = {
    "tx_bytes", "tx_frames", "rx_bytes", "rx_frames", "replay", "expired_key", "decrypt", "runt",
    "tap_busy", "tap_error", "tx_busy", "tx_error", "tx_too_big", "rx_error", "worker_queue_full",
    "handed_up", "gso_sends", "gso_datagrams", "gro_receives", "gro_datagrams", "runs_joined", "runs_handed_up",
    "runs_held",
};

static PyObject *worker_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    int tap_fd, sock_fd, tap_vnet, gso;
    Py_ssize_t max_chunk;
    unsigned int loss_hold = TL_LOSS_HOLD;
    int queue = 0, steer_fd = -1;
    static char *names[] = {"tap_fd", "sock_fd", "tap_vnet", "gso", "max_chunk", "loss_hold", "queue", "steer_fd",
                            NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iippn|Iii", names, &tap_fd, &sock_fd, &tap_vnet, &gso, &max_chunk,
                                     &loss_hold, &queue, &steer_fd))
        return NULL;
    if (queue < 0 || queue >= TL_QUEUES)
        return PyErr_Format(PyExc_ValueError, "queue %d is not one of the %d send contexts", queue, TL_QUEUES);
    if (max_chunk < 1 || max_chunk > 65535)
        return PyErr_Format(PyExc_ValueError, "max_chunk %zd is not a datagram's payload size", max_chunk);
    WorkerObject *self = (WorkerObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->held = PyList_New(0);
    self->inited = 1;
    if (self->held == NULL || tl_worker_init(&self->w, tap_fd, sock_fd, tap_vnet, gso, (size_t)max_chunk, queue) != 0) {
        Py_DECREF(self);
        return PyErr_Occurred() ? NULL : PyErr_SetFromErrno(PyExc_OSError);
    }
    self->w.loss_hold = loss_hold;
    self->w.steer_fd = steer_fd;
    return (PyObject *)self;
}

static void worker_dealloc(WorkerObject *self)
{
    if (self->inited) {
        Py_BEGIN_ALLOW_THREADS tl_worker_free(&self->w);
        Py_END_ALLOW_THREADS
    }
    Py_XDECREF(self->held);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *worker_fileno(WorkerObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromLong(self->w.notify_fd);
}

static PyObject *worker_start(WorkerObject *self, PyObject *unused)
{
    (void)unused;
    if (self->w.started)
        return PyErr_Format(PyExc_RuntimeError, "the worker runs already");
    int rc = tl_worker_start(&self->w);
    if (rc != 0) {
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyObject *worker_stop(WorkerObject *self, PyObject *unused)
{
    (void)unused;
    Py_BEGIN_ALLOW_THREADS tl_worker_stop(&self->w);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static int session_arg(PyObject *o, tl_session **s)
{
    if (o == Py_None) {
        *s = NULL;
        return 0;
    }
    if (!PyObject_TypeCheck(o, &SessionType)) {
        PyErr_SetString(PyExc_TypeError, "a Session or None");
        return -1;
    }
    *s = &((SessionObject *)o)->s;
    return 0;
}

/* host, port -> the socket family's address (a v6 socket's v4 peers come ::ffff:-mapped, runtime/udp.py). */
static int addr_arg(tl_worker *w, PyObject *host, unsigned port, struct sockaddr_storage *a, socklen_t *len)
{
    memset(a, 0, sizeof *a);
    *len = 0;
    if (host == Py_None)
        return 0;
    const char *h = PyUnicode_AsUTF8(host);
    if (h == NULL)
        return -1;
    struct sockaddr_storage own;
    socklen_t olen = sizeof own;
    int v6 = getsockname(w->sock_fd, (struct sockaddr *)&own, &olen) == 0 && own.ss_family == AF_INET6;
    struct sockaddr_in *a4 = (struct sockaddr_in *)a;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)a;
    if (v6 ? inet_pton(AF_INET6, h, &a6->sin6_addr) != 1 : inet_pton(AF_INET, h, &a4->sin_addr) != 1) {
        PyErr_Format(PyExc_ValueError, "%s: not a numeric address of the socket's family", h);
        return -1;
    }
    a->ss_family = v6 ? AF_INET6 : AF_INET;
    if (v6)
        a6->sin6_port = htons((uint16_t)port);
    else
        a4->sin_port = htons((uint16_t)port);
    *len = v6 ? sizeof *a6 : sizeof *a4;
    return 0;
}

/* A receive session's hold (worker.h tl_rx_slot): None, or the counter the core needs datagrams up to. */
static int hold_arg(PyObject *o, tl_rx_slot *slot, int *asked)
{
    *asked = 0;
    if (o == Py_None || o == NULL)
        return 0;
    unsigned long long limit = PyLong_AsUnsignedLongLong(o);
    if (limit == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *asked = 1;
    slot->hold_limit = limit;
    return 0;
}

static int rx_arg(PyObject *rx, tl_rx_slot slots[TL_RX_SLOTS], int asked[TL_RX_SLOTS], PyObject *held)
{
    PyObject *seq = PySequence_Fast(rx, "rx is a sequence of (index, Session, until[, hold])");
    if (seq == NULL)
        return -1;
    Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
    int rc = k <= TL_RX_SLOTS ? 0 : -1;
    if (rc != 0)
        PyErr_Format(PyExc_ValueError, "at most %d receive sessions", TL_RX_SLOTS);
    for (Py_ssize_t i = 0; rc == 0 && i < k; i++) {
        unsigned int index;
        PyObject *session, *hold = NULL;
        double until;
        rc = -1;
        if (PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "IOd|O", &index, &session, &until, &hold)
            && session_arg(session, &slots[i].s) == 0 && slots[i].s != NULL && hold_arg(hold, &slots[i], &asked[i]) == 0
            && PyList_Append(held, session) == 0) {
            slots[i].index = index;
            slots[i].until = until;
            rc = 0;
        } else if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "a receive session is not None");
        }
    }
    Py_DECREF(seq);
    return rc;
}

static PyObject *worker_install(WorkerObject *self, PyObject *const *args, Py_ssize_t n)
{
    tl_session *tx;
    tl_rx_slot slots[TL_RX_SLOTS] = {{0}};
    int asked[TL_RX_SLOTS] = {0};
    uint64_t remote, port;
    struct sockaddr_storage peer;
    socklen_t plen;
    if (!nargs_ok(n, 7, "install") || session_arg(args[0], &tx) != 0 || u64_arg(args[1], &remote) != 0
        || u64_arg(args[4], &port) != 0)
        return NULL;
    double until = PyFloat_AsDouble(args[2]);
    int python_rx = PyObject_IsTrue(args[6]);
    if ((until == -1.0 && PyErr_Occurred()) || python_rx < 0 || addr_arg(&self->w, args[3], (unsigned)port, &peer, &plen))
        return NULL;
    PyObject *held = PyList_New(0);
    if (held == NULL || (tx != NULL && PyList_Append(held, args[0]) != 0) || rx_arg(args[5], slots, asked, held) != 0) {
        Py_XDECREF(held);
        return NULL;
    }
    tl_worker *w = &self->w;
    Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&w->lock);
    w->tx = tx;
    w->tx_remote = (uint32_t)remote;
    w->tx_until = until;
    w->peer = peer;
    w->peer_len = plen;
    tl_holds_installed(w->rx, slots, asked);
    memcpy(w->rx, slots, sizeof slots);
    w->python_rx = python_rx;
    tl_run_installed(w); /* a run collected for a session withdrawn, or while the core reassembles: up */
    pthread_mutex_unlock(&w->lock);
    Py_END_ALLOW_THREADS
    Py_SETREF(self->held, held); /* the sessions no longer installed may go now */
    Py_RETURN_NONE;
}

static PyObject *addr_tuple(const struct sockaddr_storage *a)
{
    char host[INET6_ADDRSTRLEN];
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const void *)a;
        inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
        return Py_BuildValue("(si)", host, ntohs(a6->sin6_port));
    }
    const struct sockaddr_in *a4 = (const void *)a;
    inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
    return Py_BuildValue("(si)", host, ntohs(a4->sin_port));
}

static PyObject *worker_take(WorkerObject *self, PyObject *unused)
{
    (void)unused;
    static tl_item items[TL_RING]; /* the GIL serialises take() */
    uint64_t drain;
    if (read(self->w.notify_fd, &drain, sizeof drain) < 0) { /* nothing signalled: take what is there anyway */
    }
    unsigned k = tl_worker_take(&self->w, items, TL_RING);
    PyObject *out = PyList_New(k);
    for (unsigned i = 0; i < k; i++) {
        tl_item *it = &items[i];
        PyObject *t = NULL;
        if (out != NULL) {
            int from = it->kind == TL_UP_DATAGRAM || it->kind == TL_UP_RUN;
            PyObject *addr = from ? addr_tuple(&it->addr) : Py_NewRef(Py_None);
            t = addr == NULL ? NULL
                             : Py_BuildValue("(iy#Nn)", it->kind, (const char *)it->data, (Py_ssize_t)it->len, addr,
                                             (Py_ssize_t)it->seg);
            if (t == NULL)
                Py_CLEAR(out);
            else
                PyList_SET_ITEM(out, i, t);
        }
        free(it->data);
    }
    return out;
}

static PyObject *worker_stats(WorkerObject *self, PyObject *unused)
{
    (void)unused;
    uint64_t n[TL_N_COUNT];
    tl_worker *w = &self->w;
    pthread_mutex_lock(&w->lock);
    memcpy(n, w->n, sizeof n);
    memset(w->n, 0, sizeof w->n);
    double sent = w->last_sent, received = w->last_received, awaiting = w->awaiting;
    if (w->queue > 0) /* it never receives: its first send since the last call, and then none */
        w->awaiting = 0;
    pthread_mutex_unlock(&w->lock);
    PyObject *d = Py_BuildValue("{sdsdsd}", "last_sent", sent, "last_received", received, "awaiting", awaiting);
    for (int i = 0; d != NULL && i < TL_N_COUNT; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(n[i]);
        if (v == NULL || PyDict_SetItemString(d, count_names[i], v) != 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

static PyMethodDef worker_methods[] = {
    {"fileno", (PyCFunction)worker_fileno, METH_NOARGS, "The eventfd that is readable when items wait."},
    {"start", (PyCFunction)worker_start, METH_NOARGS, "Start the thread."},
    {"stop", (PyCFunction)worker_stop, METH_NOARGS, "Stop the thread and wait for it."},
    {"install", (PyCFunction)(void (*)(void))worker_install, METH_FASTCALL, "Install what the worker may use."},
    {"take", (PyCFunction)worker_take, METH_NOARGS, "The items handed up: [(kind, bytes, addr, seg)]."},
    {"stats", (PyCFunction)worker_stats, METH_NOARGS, "Counts since the last call, and the last times."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject WorkerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tapliance.fastpath._fast.Worker",
    .tp_basicsize = sizeof(WorkerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "the worker thread of one point-to-point session (worker.h)",
    .tp_new = worker_new,
    .tp_dealloc = (destructor)worker_dealloc,
    .tp_methods = worker_methods,
};
