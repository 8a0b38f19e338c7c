// The system tests use the shared temporary directory helper.
#pragma once
#include "tests/temp_dir.h"
