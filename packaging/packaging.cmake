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

# Manual pages, completions and the Debian changelog, generated from the
# CLI tables (`meshvm --dump-cli`) at build time, so help, man and
# completion cannot disagree.  Only python3's standard library is needed.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(MESHVM_CLI_DOCS ${CMAKE_BINARY_DIR}/cli-docs)
add_custom_command(
  OUTPUT ${MESHVM_CLI_DOCS}/stamp
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/packaging/gen_cli_docs.py
          --binary $<TARGET_FILE:meshvm>
          --src ${CMAKE_SOURCE_DIR} --out ${MESHVM_CLI_DOCS}
  COMMAND ${CMAKE_COMMAND} -E touch ${MESHVM_CLI_DOCS}/stamp
  DEPENDS meshvm ${CMAKE_SOURCE_DIR}/packaging/gen_cli_docs.py
  COMMENT "Manual pages and completions from meshvm --dump-cli"
  VERBATIM)
add_custom_target(cli_docs ALL DEPENDS ${MESHVM_CLI_DOCS}/stamp)

# cmake --install build --prefix P
include(GNUInstallDirs)
install(TARGETS meshvm RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${MESHVM_CLI_DOCS}/man/
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        FILES_MATCHING PATTERN "*.1.gz")
install(FILES ${MESHVM_CLI_DOCS}/completion/meshvm.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME meshvm)
install(FILES ${MESHVM_CLI_DOCS}/completion/_meshvm
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/site-functions)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/fake.md
              ${CMAKE_SOURCE_DIR}/packaging/copyright
              ${MESHVM_CLI_DOCS}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# cpack -G DEB: meshvm_<version>_amd64.deb.  The version is the build's
# (packaging/version.cmake), read when cpack runs.
set(CPACK_PACKAGE_NAME meshvm)
set(CPACK_PACKAGE_VENDOR "The meshvm authors")
set(CPACK_PACKAGE_CONTACT
    "meshvm maintainers <maintainers@users.noreply.r-seed-214e0194.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "put a VM into a multicluster Istio mesh on GKE, hands off")
set(CPACK_PACKAGE_DESCRIPTION
    "meshvm bakes a reproducible bundle (Istio sidecar, mesh identity, the
service's image and units) that a fresh VM verifies and installs on every
boot through cloud-init, and provisions the GKE clusters, firewall rules
and Istio multi-primary glue through the Google Cloud REST APIs. A fake
Google Cloud and Kubernetes API (meshvm fake) rehearses every step
offline.")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_BINARY_DIR}/cpack_project.cmake)
file(WRITE ${CMAKE_BINARY_DIR}/cpack_project.cmake
     "include(${MESHVM_VERSION_CMAKE})\n"
     "set(CPACK_PACKAGE_VERSION \${MESHVM_VERSION_DEB})\n"
     "set(CPACK_DEBIAN_PACKAGE_VERSION \${MESHVM_VERSION_DEB})\n")
include(CPack)
