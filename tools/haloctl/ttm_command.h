// haloctl's `ttm` subcommand lives in tools/haloctl/ttm/ (library haloctl_ttm,
// dependency haloctl_ttm_dep from subdir('ttm')); this header forwards to it.
#pragma once
#include "tools/haloctl/ttm/ttm_command.h"

// haloctl's main calls run_ttm_command() unqualified.
using halo::haloctl::run_ttm_command;
