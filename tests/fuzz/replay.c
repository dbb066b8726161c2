/*
 * Corpus replay driver for gcc builds: runs LLVMFuzzerTestOneInput on every
 * file of the corpus directories given as arguments (suite 'fuzz'), so the
 * parsers see the corpus in every build, not only under libFuzzer.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
	FILE *f = NULL;
	uint8_t *data = NULL;
	long size;
	int r = -1;

	f = fopen(path, "rb");
	if (f == NULL)
		goto out;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	/* one extra byte so an empty file still gets a valid pointer */
	data = malloc((size_t)size + 1);
	if (data == NULL)
		goto out;
	if (size > 0 && fread(data, 1, (size_t)size, f) != (size_t)size)
		goto out;
	(void)LLVMFuzzerTestOneInput(data, (size_t)size);
	r = 0;
out:
	free(data);
	if (f != NULL)
		fclose(f);
	return r;
}

int
main(int argc, char **argv)
{
	int files = 0;
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		DIR *dir = opendir(argv[i]);
		struct dirent *de;

		if (dir == NULL) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		while ((de = readdir(dir)) != NULL) {
			char path[4096];
			struct stat st;

			if (de->d_name[0] == '.')
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name) >=
			    (int)sizeof(path))
				continue;
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (replay_file(path) != 0) {
				fprintf(stderr, "replay: cannot read %s\n", path);
				failed++;
			}
			files++;
		}
		closedir(dir);
	}
	printf("replayed %d inputs\n", files);
	if (files == 0) {
		fprintf(stderr, "replay: empty corpus\n");
		return 1;
	}
	return failed == 0 ? 0 : 1;
}
