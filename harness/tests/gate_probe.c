/* gate_probe.c - the migration gate from the command line, for the
 * e2e scripts (harness/e2e/prometheus.sh):
 *   gate_probe PROM_URL SERVICE WINDOW_S MIN_SUCCESS MAX_P99_MS DEST...
 * prints the decision line; exit 0 when it passes, 4 when it fails, 1 on
 * bad arguments. */
#include <stdio.h>
#include <stdlib.h>

#include "cluster/migrate_gate.h"
#include "core/http.h"

int
main(int argc, char **argv)
{
	struct gate_limits lim;
	struct gate_result g;
	struct mv_err err;
	struct mv_http *h;
	int rc;

	if (argc < 7) {
		fprintf(stderr, "usage: gate_probe PROM_URL SERVICE WINDOW_S "
		        "MIN_SUCCESS MAX_P99_MS DEST...\n");
		return 1;
	}
	lim.window_s = strtol(argv[3], NULL, 10);
	lim.min_success_rate = strtod(argv[4], NULL);
	lim.max_p99_ms = strtod(argv[5], NULL);
	mv_err_clear(&err);
	h = mv_http_new(NULL);
	rc = gate_evaluate(h, argv[1], argv[2], (const char *const *)argv + 6,
	                   (size_t)(argc - 6), &lim, &g, &err);
	mv_http_free(h);
	if (rc != 0) {
		fprintf(stderr, "gate_probe: %s\n", err.msg);
		return 1;
	}
	printf("%s %s\n", g.pass ? "PASS" : "FAIL", g.reason);
	for (size_t i = 0; i < g.n; i++)
		printf("  %s rps=%.3f success=%.4f p99_ms=%.2f\n", g.d[i].name,
		       g.d[i].rps, g.d[i].success_rate, g.d[i].p99_ms);
	return g.pass ? 0 : 4;
}
