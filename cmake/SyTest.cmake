# sy_add_test(<target> [NP n...] [LABELS l...] [TIMEOUT s])
#
# Registers a GoogleTest binary with ctest once per world size: <target>_np<n>, run as
# `mpirun -np <n> --oversubscribe <binary>`. np 1 is run under mpirun too, so every test sees a real
# MPI_COMM_WORLD. Each test gets a ctest TIMEOUT (default 300 s), on top of the in-process watchdog of
# tests/mpi_test_main.cc, so nothing can hang CI.
function(sy_add_test target)
  cmake_parse_arguments(ARG "" "TIMEOUT" "NP;LABELS;ENV" ${ARGN})
  if(NOT ARG_NP)
    set(ARG_NP 1)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  foreach(np IN LISTS ARG_NP)
    set(name ${target}_np${np})
    add_test(NAME ${name}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${SY_MPIEXEC_FLAGS}
                     $<TARGET_FILE:${target}>)
    set(labels ${ARG_LABELS})
    if(np GREATER 1)
      list(APPEND labels mpi)
    endif()
    # Exit code 77: every test of the binary skipped (tests/mpi_test_main.cc), e.g. the CUDA tests
    # where no GPU is visible — reported as skipped, not passed.
    set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${labels}"
                                            PROCESSORS ${np} ENVIRONMENT "${ARG_ENV}"
                                            SKIP_RETURN_CODE 77)
  endforeach()
endfunction()

# Flags every mpirun in the test suite gets: more ranks than cores is normal here (CI has 2 cores),
# root is allowed (containers and CI run as root), and the shared-memory transport avoids the
# single-copy mechanism that containers forbid (ptrace/CMA).
set(SY_MPIEXEC_FLAGS --oversubscribe)
execute_process(COMMAND id -u OUTPUT_VARIABLE _uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_uid STREQUAL "0")
  list(APPEND SY_MPIEXEC_FLAGS --allow-run-as-root)
endif()
if(SY_MPI_VENDOR MATCHES "Open MPI|OpenRTE")
  list(APPEND SY_MPIEXEC_FLAGS --mca btl_vader_single_copy_mechanism none)
endif()
