// What halod does between reading its configuration and serving: turning the
// config and the TTM report into manager settings, logging the TTM verdict,
// and starting the configured preloads.
#pragma once
#include "daemon/config/config.h"
#include "daemon/manager.h"
#include "daemon/ttm/ttm.h"

namespace halod {

ManagerSettings settings_from(const halo::config::Config& config, const halo::ttm::Report& ttm);
void log_ttm_report(const halo::ttm::Report& ttm);
// Starts loading every [[preload]] model; failures are logged, not fatal.
void start_preloads(Manager& manager, const halo::config::Config& config);

}  // namespace halod
