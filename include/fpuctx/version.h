/* SPDX-License-Identifier: MIT */
/* The library's version; the Makefile reads fpuctx.pc's Version from here. */
#ifndef FPUCTX_VERSION_H
#define FPUCTX_VERSION_H

#define FPUCTX_VERSION_MAJOR 0
#define FPUCTX_VERSION_MINOR 9
#define FPUCTX_VERSION_PATCH 0
#define FPUCTX_VERSION_STRING "0.9.0"

#endif
