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
/* `suitd device import`: argv[0] is "import" (server/cli_import.c). */
int command_device_import(const struct config *config, int argc, char **argv);
int command_gc(const struct config *config, int argc, char **argv);
int command_restore(const struct config *config, int argc, char **argv);
/* `suitd migrate-data`: needs no configuration (its ends are arguments). */
int command_migrate_data(int argc, char **argv);

/* Load the file, printing "suitd: FILE:LINE: [section] key: why" on error. */
struct config *command_config_load(const char *path);
/* Print a config error (config_load, config_diag_key) of the file PATH so. */
void command_config_error(const char *path, const struct diag *d);
/* What check-config verifies after loading, and start before it listens:
 * the TLS certificate and key (readable, a pair, not expired), the device
 * CA, the trust anchors and HMAC keys, and that the database exists or can
 * be made. On error *d is a config error at the line of the key. */
enum err command_config_files(const struct config *config, struct diag *d);
/* The database as messages name it: SQLite's file, or "the PostgreSQL
 * database" (never the url, which may hold a password). */
const char *command_storage_name(const struct config *config);
/* Open the database (migrating when asked), printing errors. */
struct storage *command_storage_open(const struct config *config, bool migrate);
/* The same, for the daemon: WAL checkpoints on a thread of their own. */
struct storage *command_storage_open_opt(const struct config *config, bool migrate,
					 bool background_checkpoint);

#endif
