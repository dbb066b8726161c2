/*
 * Fuzz target for the config file parser: arbitrary bytes as an in-memory
 * config file, with an empty environment and no required keys, so every
 * input reaches the parser and validators. A config that loads is dumped as
 * well, which walks every stored value.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

/* Above CONFIG_LINE_MAX so overlong lines are reached, far below the file cap. */
#define FUZZ_CONFIG_MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const empty_env[] = { NULL };
	struct config_source src = { 0 };
	struct config *config = NULL;
	char *cause = NULL;
	char *dump = NULL;
	size_t dump_len = 0;
	FILE *f;

	if (size > FUZZ_CONFIG_MAX_INPUT)
		return 0;
	src.data = (const char *)data;
	src.data_len = size;
	src.data_name = "fuzz.conf";
	src.envp = empty_env;
	if (config_load(&src, &config, &cause) == 0) {
		f = open_memstream(&dump, &dump_len);
		if (f != NULL) {
			config_dump(config, f);
			fclose(f);
		}
		free(dump);
		config_free(config);
	} else if (cause == NULL) {
		abort(); /* every failure must say why */
	}
	free(cause);
	return 0;
}
