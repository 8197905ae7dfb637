# Install rules for everything in ../shared/API.md's table: the tools, libbpfc.so (with its
# soname link) and the LLVM engine's module beside it, the staged headers (<bpfc/bpfc.h>,
# <bpfc/bpfc.hpp> and what they include), the CMake package (bpfc::bpfc) and bpfc.pc, manual
# pages and bash completions. `make install PREFIX=P` = `cmake --install build --prefix P`.
# Everything installed is relocatable (no absolute build or install path inside); checked by
# tests/install/.
include(CMakePackageConfigHelpers)

install(TARGETS bpfc bpfdump RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS libbpfc EXPORT bpfcTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET bpfc_llvm)
  # Beside libbpfc.so: jit/engine.cpp looks there (dladdr), and the tools at <bin>/../lib.
  install(TARGETS bpfc_llvm LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
install(DIRECTORY ${CMAKE_BINARY_DIR}/include/bpfc DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/bpfc)
install(EXPORT bpfcTargets NAMESPACE bpfc:: DESTINATION ${_cmakedir})
configure_file(${CMAKE_CURRENT_LIST_DIR}/bpfcConfig.cmake.in
               ${CMAKE_BINARY_DIR}/package/bpfcConfig.cmake @ONLY)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/package/bpfcConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/package/bpfcConfig.cmake
              ${CMAKE_BINARY_DIR}/package/bpfcConfigVersion.cmake
        DESTINATION ${_cmakedir})
file(RELATIVE_PATH BPFC_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" BPFC_PC_TO_PREFIX "${BPFC_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/bpfc.pc.in ${CMAKE_BINARY_DIR}/package/bpfc.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/package/bpfc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

foreach(_page man/bpfc.1 man/bpfdump.1 man/bpfc.3)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${_page})
    string(REGEX MATCH "[0-9]$" _sec ${_page})
    install(FILES ${PROJECT_SOURCE_DIR}/${_page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${_sec})
  endif()
endforeach()
foreach(_tool bpfc bpfdump)
  if(EXISTS ${PROJECT_SOURCE_DIR}/completion/${_tool})
    install(FILES ${PROJECT_SOURCE_DIR}/completion/${_tool}
            DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions)
  endif()
endforeach()
