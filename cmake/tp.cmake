# Build helpers: every target of the project goes through these so warnings, sanitizers
# and coverage are set in one place and never leak onto third-party code.

set(TP_COMPILE_OPTIONS -Wall -Wextra -Werror -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 gives false positives on "literal" + std::string and in <regex>/<variant>.
  list(APPEND TP_COMPILE_OPTIONS -Wno-restrict -Wno-maybe-uninitialized -Wno-array-bounds
       -Wno-stringop-overflow)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # Boost 1.81's asio needs these spelled out for clang's libstdc++ coroutine support.
  add_compile_definitions(BOOST_ASIO_HAS_CO_AWAIT=1 BOOST_ASIO_HAS_STD_COROUTINE=1)
endif()

set(TP_SANITIZE_FLAGS "")
if(TP_SANITIZE STREQUAL "address")
  set(TP_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer)
elseif(TP_SANITIZE STREQUAL "thread")
  set(TP_SANITIZE_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
  # GCC 12 warns that TSan does not model atomic_thread_fence, which Asio uses.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    list(APPEND TP_COMPILE_OPTIONS -Wno-tsan)
  endif()
elseif(NOT TP_SANITIZE STREQUAL "")
  message(FATAL_ERROR "TP_SANITIZE must be '', 'address' or 'thread', got '${TP_SANITIZE}'")
endif()
if(TP_SANITIZE_FLAGS)
  add_compile_options(${TP_SANITIZE_FLAGS})
  add_link_options(${TP_SANITIZE_FLAGS})
endif()
if(TP_COVERAGE)
  add_compile_options(--coverage -O0)
  add_link_options(--coverage)
endif()

# Every test labelled "tsan" is a dependency of this target, so the ThreadSanitizer CI
# stage builds only what it runs.
if(NOT TARGET tp_tsan_tests)
  add_custom_target(tp_tsan_tests)
endif()

function(_tp_apply_options target)
  target_compile_options(${target} PRIVATE ${TP_COMPILE_OPTIONS})
endfunction()

# tp_cc_library(NAME wal SRCS a.cc b.cc DEPS tp::common PRIVATE_DEPS RocksDB::rocksdb)
# creates tp_wal, alias tp::wal, with <dir>/include as its public include directory.
function(tp_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;PRIVATE_DEPS;INCLUDES" ${ARGN})
  set(target tp_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SRCS})
  add_library(tp::${ARG_NAME} ALIAS ${target})
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  endif()
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src ${ARG_INCLUDES})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  _tp_apply_options(${target})
endfunction()

# tp_cc_binary(NAME walctl SRCS main.cc DEPS tp::wal)
function(tp_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  _tp_apply_options(${ARG_NAME})
endfunction()

# tp_cc_test(NAME wal_store_test SRCS store_test.cc DEPS tp::wal LABELS unit)
# Labels: unit (fast), e2e, crash, soak, pg (needs PostgreSQL binaries), tsan (runs
# under ThreadSanitizer in CI). Tests without LABELS are unit tests. Select with
# `ctest -L <regex>`.
#
# ONE_PROCESS runs the whole binary as one CTest test instead of one process per case:
# for suites whose cases share an expensive fixture (a PostgreSQL server per process).
function(tp_cc_test)
  cmake_parse_arguments(ARG "ONE_PROCESS" "NAME;TIMEOUT" "SRCS;DEPS;LABELS;PROPERTIES" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} tp::testing GTest::gtest_main
                                            GTest::gmock)
  _tp_apply_options(${ARG_NAME})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if("tsan" IN_LIST ARG_LABELS)
    add_dependencies(tp_tsan_tests ${ARG_NAME})
  endif()
  # gtest_discover_tests cannot carry a list-valued LABELS property, so several labels
  # become one label joined with '+' ("unit+tsan"); `ctest -L` matches labels as a
  # regular expression, so `-L tsan` and `-L unit` both select it.
  string(REPLACE ";" "+" labels "${ARG_LABELS}")
  if(ARG_ONE_PROCESS)
    add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
    set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${labels}" TIMEOUT ${ARG_TIMEOUT}
                                                ${ARG_PROPERTIES})
    return()
  endif()
  gtest_discover_tests(${ARG_NAME}
    PROPERTIES LABELS "${labels}" TIMEOUT ${ARG_TIMEOUT} ${ARG_PROPERTIES}
    DISCOVERY_TIMEOUT 60)
endfunction()

# tp_cc_bench(NAME wal_append_benchmark SRCS append_benchmark.cc DEPS tp::wal)
function(tp_cc_bench)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  _tp_apply_options(${ARG_NAME})
endfunction()

# tp_flatbuffers(TARGET tp_wal SCHEMAS schema/record.fbs [PRIVATE])
# Generates <name>_generated.h into the build tree at build time (flatc's output pins the
# exact runtime version, so generated headers are never committed) and adds them to
# TARGET's include path (PUBLIC, or PRIVATE when the target's headers expose none of the
# generated types). A schema may be generated for several targets: each gets its own copy
# in its own build directory, all from the one .fbs.
function(tp_flatbuffers)
  cmake_parse_arguments(ARG "PRIVATE" "TARGET" "SCHEMAS" ${ARGN})
  set(scope PUBLIC)
  if(ARG_PRIVATE)
    set(scope PRIVATE)
  endif()
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/generated)
  set(outputs "")
  foreach(schema IN LISTS ARG_SCHEMAS)
    get_filename_component(name ${schema} NAME_WE)
    set(out ${out_dir}/${name}_generated.h)
    add_custom_command(
      OUTPUT ${out}
      COMMAND flatbuffers::flatc --cpp --scoped-enums -o ${out_dir}
              ${CMAKE_CURRENT_SOURCE_DIR}/${schema}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${schema} flatbuffers::flatc
      COMMENT "flatc ${schema}")
    list(APPEND outputs ${out})
  endforeach()
  add_custom_target(${ARG_TARGET}_flatbuffers DEPENDS ${outputs})
  add_dependencies(${ARG_TARGET} ${ARG_TARGET}_flatbuffers)
  target_include_directories(${ARG_TARGET} ${scope} ${out_dir})
  target_link_libraries(${ARG_TARGET} ${scope} flatbuffers::flatbuffers)
endfunction()

# tp_npm_ci(STAMP var SOURCE_DIR dir BINARY_DIR dir COMMENT text)
# Installs the npm packages pinned by SOURCE_DIR/package{,-lock}.json into
# BINARY_DIR/node_modules at build time (`npm ci`) and sets `var` to a stamp file that
# targets depend on; it reruns only when the package files change.
function(tp_npm_ci)
  cmake_parse_arguments(ARG "" "STAMP;SOURCE_DIR;BINARY_DIR;COMMENT" "" ${ARGN})
  set(stamp ${ARG_BINARY_DIR}/node_modules/.tp-npm-ci.stamp)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${ARG_BINARY_DIR}
    COMMAND ${CMAKE_COMMAND} -E copy ${ARG_SOURCE_DIR}/package.json
            ${ARG_SOURCE_DIR}/package-lock.json ${ARG_BINARY_DIR}
    COMMAND ${TP_NPM} ci --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    WORKING_DIRECTORY ${ARG_BINARY_DIR}
    DEPENDS ${ARG_SOURCE_DIR}/package.json ${ARG_SOURCE_DIR}/package-lock.json
    COMMENT "${ARG_COMMENT}"
    VERBATIM)
  set(${ARG_STAMP} ${stamp} PARENT_SCOPE)
endfunction()
