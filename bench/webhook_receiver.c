/* A minimal HTTPS webhook receiver for bench/webhooks.sh: answers every
 * request 204 as soon as its body has arrived, counts them, and prints the
 * count on stdout when it gets SIGUSR1 and at exit (SIGTERM).
 *
 * cc -O2 -o webhook_receiver bench/webhook_receiver.c \
 *    $(pkg-config --cflags --libs libmicrohttpd)
 * webhook_receiver PORT CERT.pem KEY.pem */
#include <microhttpd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong received;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	static int first;
	struct MHD_Response *res;
	enum MHD_Result ret;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload;
	if (!*con_cls) {
		*con_cls = &first;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	atomic_fetch_add(&received, 1);
	res = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, 204, res);
	MHD_destroy_response(res);
	return ret;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = calloc(1, 65536);

	if (!f || !s)
		exit(1);
	if (fread(s, 1, 65535, f) == 0)
		exit(1);
	fclose(f);
	return s;
}

int main(int argc, char **argv)
{
	sigset_t sigs;
	int sig;

	if (argc != 4) {
		fprintf(stderr, "usage: %s PORT CERT KEY\n", argv[0]);
		return 2;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_EPOLL,
		(uint16_t)strtoul(argv[1], NULL, 10), NULL, NULL, handler, NULL,
		MHD_OPTION_HTTPS_MEM_CERT, slurp(argv[2]), MHD_OPTION_HTTPS_MEM_KEY, slurp(argv[3]),
		MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
		MHD_OPTION_END);
	if (!d)
		return 1;
	printf("ready\n");
	fflush(stdout);
	while (sigwait(&sigs, &sig) == 0) {
		printf("%lu\n", atomic_load(&received));
		fflush(stdout);
		if (sig != SIGUSR1)
			break;
	}
	MHD_stop_daemon(d);
	return 0;
}
