# Packaging (issue 18, item 3): the C library for C users (headers, libsbengine.a, a pkg-config
# file and a CMake package config), the man page, `make uninstall` and `make deb` (CPack DEB).
# Included from the top-level CMakeLists.txt after the targets exist.

# ---- libsbengine for C users: <prefix>/include/sbengine/<area>/*.h, <libdir>/libsbengine.a ----
# The core areas only: the bindings, the CLI and the server plugin are not part of the C API.
install(DIRECTORY engine/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sbengine
        FILES_MATCHING PATTERN "*.h"
        PATTERN "bindings" EXCLUDE PATTERN "cli" EXCLUDE PATTERN "server" EXCLUDE
        PATTERN "runtime.h" EXCLUDE PATTERN "server_cli.h" EXCLUDE)
install(DIRECTORY ${CMAKE_BINARY_DIR}/generated/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sbengine
        FILES_MATCHING PATTERN "*.h")
target_include_directories(sbengine_engine INTERFACE
                           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/sbengine>)
install(TARGETS sbengine_engine EXPORT sbengineTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

# What a static libsbengine needs at link time, for pkg-config (Requires.private/Libs.private)
# and for the CMake config (find_dependency). OpenBLAS, libcurl, oneDNN and libpq are loaded
# with dlopen() and are not linked.
set(SBENGINE_PC_REQUIRES "zlib")
set(SBENGINE_CONFIG_MODULES "ZLIB zlib")
foreach(pair "JPEG;libturbojpeg" "PNG;libpng" "MATIO;matio")
  list(GET pair 0 var)
  list(GET pair 1 module)
  if(${var}_FOUND)
    string(APPEND SBENGINE_PC_REQUIRES " ${module}")
    string(APPEND SBENGINE_CONFIG_MODULES "\n${var} ${module}")
  endif()
endforeach()
# Relocatable: the prefix is found from the .pc file's own folder, so that an install with
# `cmake --install --prefix P` (or DESTDIR, or the Debian package) is right wherever it lands.
file(RELATIVE_PATH SBENGINE_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" SBENGINE_PC_TO_PREFIX "${SBENGINE_PC_TO_PREFIX}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/sbengine.pc.in ${CMAKE_BINARY_DIR}/sbengine.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/sbengine.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

include(CMakePackageConfigHelpers)
set(SBENGINE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sbengine)
install(EXPORT sbengineTargets NAMESPACE sbengine:: DESTINATION ${SBENGINE_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/sbengineConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/sbengineConfig.cmake
                              INSTALL_DESTINATION ${SBENGINE_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/sbengineConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/sbengineConfig.cmake ${CMAKE_BINARY_DIR}/sbengineConfigVersion.cmake
        DESTINATION ${SBENGINE_CMAKE_DIR})

# ---- the man page sbengine(1) (docs/sbengine.1; tests/cli/man_page.sh keeps it in step) ----
install(FILES ${CMAKE_SOURCE_DIR}/docs/sbengine.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# ---- make uninstall: removes what the last `cmake --install` of this build put in place ----
add_custom_target(uninstall
  COMMAND ${CMAKE_COMMAND} -DMANIFEST=${CMAKE_BINARY_DIR}/install_manifest.txt
          -P ${CMAKE_SOURCE_DIR}/cmake/uninstall.cmake
  COMMENT "Removing the files listed in install_manifest.txt")

# ---- make deb: CPack's DEB generator ---------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sbengine)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "sbengine maintainers <sbengine@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "native engine for machine-learning evaluation benchmarks in Lua")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # sbengine_<version>_<arch>.deb
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Linked libraries come from dpkg-shlibdeps; the ones loaded with dlopen() are declared here:
# OpenBLAS (GEMM), libcurl (downloads, the results server client), oneDNN (CPU convolutions),
# lua5.4 (plain lua5.4 and busted load sbengine.so), lua-cjson (the server client's replies).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0, libcurl4, lua-cjson")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "lua5.4, libdnnl2")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libpq5, npm, lua-busted, luarocks")
include(CPack)
