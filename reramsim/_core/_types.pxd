# Shared typedefs and error codes of the Cython engine (reramsim._core).
#
# Every engine module cimports its integer types from here, so a change of width
# happens in one place.

from libc.stdint cimport int32_t, int64_t

ctypedef int64_t time_t   # a point in time or a duration, in cycles of config.clock_mhz
ctypedef int32_t idx_t    # an index: layer, crossbar, flow, edge, resource or output pixel


cdef enum:  # ErrorCode
    # What a nogil function returns; 0 is success. The entry point turns a non-zero
    # code into a Python exception (reramsim.engine.EngineError) with its context.
    ERR_NONE = 0
    ERR_NOMEM = 1       # an allocation failed
    ERR_BAD_INDEX = 2   # an input array holds an index out of range (found before the run)
    ERR_PAST = 3        # an event was scheduled before the current cycle
    ERR_STATE = 4       # a component reached a state the semantics rule out
    ERR_ORDER = 5       # a flow delivered pixels out of raster order
    ERR_DEADLOCK = 6    # no events left but some layer has pixels to do
    ERR_KIND = 7        # an event of unknown kind
