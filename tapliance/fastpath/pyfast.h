/* What module.c and wmodule.c share: the Python objects of the compiled data path and argument helpers. */
#ifndef TAPLIANCE_FASTPATH_PYFAST_H
#define TAPLIANCE_FASTPATH_PYFAST_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "session.h"

typedef struct {
    PyObject_HEAD
    tl_replay w;
} ReplayObject;

typedef struct {
    PyObject_HEAD
    tl_session s;
    ReplayObject *replay;
    int inited;
} SessionObject;

extern PyTypeObject SessionType, WorkerType;

int u64_arg(PyObject *o, uint64_t *v);
int nargs_ok(Py_ssize_t n, Py_ssize_t want, const char *name);

#endif
