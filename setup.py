"""Only the optional C record scanner; every other setting lives in pyproject.toml."""

from setuptools import Extension, setup

# optional=True: without a C compiler (or zlib's headers, zlib1g-dev) the install still
# succeeds and supervisor_app.chronicle.records uses its pure-Python scan instead.
setup(
    ext_modules=[
        Extension(
            "supervisor_app.chronicle._recordscan",
            sources=["supervisor_app/chronicle/_recordscan.c"],
            libraries=["z"],  # crc32_z: the payload CRC-32 where the CPU has no carry-less multiply
            optional=True,
        )
    ]
)
