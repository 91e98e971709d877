# Writes OUT (core/version.h) from SOURCE_DIR/engine/core/version.h.in with the source
# tree's git revision now. Run at configure time and again at every build, so a result never
# records the revision of an older build; configure_file rewrites OUT only when its text
# changes, so an unchanged revision recompiles nothing.
# Usage: cmake -DSOURCE_DIR=... -DOUT=... -DPROJECT_VERSION=... -P cmake/version.cmake
execute_process(COMMAND git describe --always --dirty --abbrev=10
                WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE SBENGINE_GIT_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET)
if(NOT SBENGINE_GIT_REVISION)
  set(SBENGINE_GIT_REVISION "unknown")
endif()
configure_file(${SOURCE_DIR}/engine/core/version.h.in ${OUT} @ONLY)
