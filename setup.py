"""The compiled data path (tapliance.fastpath._fast, issue 16) as an optional extension: built where a C
compiler, Python's headers and OpenSSL's libcrypto headers exist (scripts/bootstrap installs gcc, python3-dev
and libssl-dev), skipped with a warning elsewhere, where tapliance runs its pure-Python data path.
Everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tapliance.fastpath._fast",
            sources=[
                f"tapliance/fastpath/{n}.c"
                for n in ("core", "sodium", "session", "worker", "wsend", "wrun", "whold", "module", "wmodule")
            ],
            depends=[f"tapliance/fastpath/{n}.h" for n in ("core", "session", "worker", "pyfast")],
            libraries=["crypto"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
            optional=True,
        )
    ]
)
