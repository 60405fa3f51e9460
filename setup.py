"""Only the optional C record scanner; every other setting lives in pyproject.toml."""

from setuptools import Extension, setup

# optional=True: without a C compiler the install still succeeds and
# supervisor_app.chronicle.records uses its pure-Python scan instead.
setup(
    ext_modules=[
        Extension(
            "supervisor_app.chronicle._recordscan",
            sources=["supervisor_app/chronicle/_recordscan.c"],
            optional=True,
        )
    ]
)
