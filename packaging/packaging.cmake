# packaging/packaging.cmake - version, install rules and the Debian package.
# Included once from the top-level CMakeLists.txt, after cli/.

# --version: computed at build time (packaging/version.cmake) into a
# header that only the CLI sees, so a new commit recompiles cli/ alone.
set(MESHVM_VERSION_H ${CMAKE_BINARY_DIR}/meshvm_version.h)
set(MESHVM_VERSION_CMAKE ${CMAKE_BINARY_DIR}/meshvm_version.cmake)
add_custom_target(meshvm_version ALL
  BYPRODUCTS ${MESHVM_VERSION_H} ${MESHVM_VERSION_CMAKE}
  COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR}
          -DVERSION=${PROJECT_VERSION} -DOUT=${MESHVM_VERSION_H}
          -DOUT_CMAKE=${MESHVM_VERSION_CMAKE}
          -P ${CMAKE_SOURCE_DIR}/packaging/version.cmake
  COMMENT "meshvm version (git describe)"
  VERBATIM)
add_dependencies(meshvm meshvm_version)
# -include comes after every -D, so the header's #undef/#define wins over
# the library-wide MESHVM_VERSION (the plain project version).
target_compile_options(meshvm PRIVATE -include ${MESHVM_VERSION_H})
