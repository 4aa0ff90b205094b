/* The command-line verbs of suitd(8); each returns the process exit code. */
#ifndef SUITD_SERVER_COMMANDS_H
#define SUITD_SERVER_COMMANDS_H

#include "config/config.h"

int command_run(const struct config *config);
int command_check_config(const struct config *config);
int command_migrate(const struct config *config);
int command_key(const struct config *config, int argc, char **argv);
int command_backup(const struct config *config, int argc, char **argv);
int command_manifest(const struct config *config, int argc, char **argv);
int command_device(const struct config *config, int argc, char **argv);
int command_gc(const struct config *config, int argc, char **argv);

/* Load the file, printing "suitd: FILE:LINE: [section] key: why" on error. */
struct config *command_config_load(const char *path);
/* Open the database (migrating when asked), printing errors. */
struct storage *command_storage_open(const struct config *config, bool migrate);
/* The same, for the daemon: WAL checkpoints on a thread of their own. */
struct storage *command_storage_open_opt(const struct config *config, bool migrate,
					 bool background_checkpoint);

#endif
