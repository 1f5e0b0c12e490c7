# `cmake --install build --prefix P` puts the libraries, their headers (and the generated
# switchyard/*.pb.h), the `switchyard` command and a CMake package in P, so another project can
#   find_package(Switchyard REQUIRED)      # with CMAKE_PREFIX_PATH=P
#   target_link_libraries(app PRIVATE Switchyard::sy_train)
# Targets: sy_proto, sy_core, sy_comm, sy_scheduler, sy_experts, sy_models, sy_train (each links
# the ones below it) and the `switchyard` executable.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SY_EXPORTED_TARGETS sy_warnings sy_proto sy_core sy_comm sy_scheduler sy_experts sy_models
                        sy_train)
install(TARGETS ${SY_EXPORTED_TARGETS} EXPORT SwitchyardTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS switchyard RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir comm experts models runtime)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          FILES_MATCHING PATTERN "*.h" PATTERN "*.cuh")
endforeach()
install(DIRECTORY ${PROJECT_BINARY_DIR}/proto/switchyard DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.pb.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/switchyard DESTINATION ${CMAKE_INSTALL_DATADIR}/switchyard/proto
        FILES_MATCHING PATTERN "*.proto")

set(SY_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Switchyard)
install(EXPORT SwitchyardTargets NAMESPACE Switchyard:: DESTINATION ${SY_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/SwitchyardConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/SwitchyardConfig.cmake
                              INSTALL_DESTINATION ${SY_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/SwitchyardConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/SwitchyardConfig.cmake
              ${PROJECT_BINARY_DIR}/SwitchyardConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindNCCL.cmake
        DESTINATION ${SY_CMAKE_DIR})
