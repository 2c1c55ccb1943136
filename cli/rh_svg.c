/* cli/rh_svg.c - see rh_svg.h. */
#include "cli/rh_svg.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/escape.h"
#include "core/xalloc.h"

#define FONT "font-family=\"DejaVu Sans,Arial,sans-serif\""

static const char *const palette[] = {"#1a73e8", "#e8710a", "#188038",
                                      "#a142f4", "#d93025", "#12b5cb"};

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* fprintf with each %s argument XML-escaped first would need a parser;
 * instead callers escape names with X() into a small ring of buffers. */
struct ring {
	char *s[8];
	int i;
};

static const char *
X(struct ring *r, const char *s)
{
	r->i = (r->i + 1) % 8;
	free(r->s[r->i]);
	r->s[r->i] = mv_xml_escape(s);
	return r->s[r->i];
}

static void
ring_free(struct ring *r)
{
	for (int i = 0; i < 8; i++)
		free(r->s[i]);
}

/* The memstream's buffer is only valid once it is closed. */
static char *
finish(FILE *fp, char **buf)
{
	fclose(fp);
	return *buf;
}

static void
text(FILE *fp, struct ring *r, double x, double y, int size,
     const char *weight, const char *fill, const char *s)
{
	fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" "
	        "font-weight=\"%s\" fill=\"%s\" " FONT ">%s</text>\n", x, y, size,
	        weight, fill, X(r, s));
}

char *
rh_svg_topology(const json_t *topo)
{
	json_t *clusters = json_object_get(topo, "clusters"), *c, *v;
	json_t *vms = json_object_get(topo, "vms");
	json_t *split = json_object_get(topo, "split");
	size_t nc = json_array_size(clusters), i, j, maxh = 0;
	double cw = 420, gap = 30, W, H, vy;
	struct ring r = {0};
	char *buf = NULL, line[256];
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL)
		abort();
	/* a cluster box is as tall as its longest list */
	json_array_foreach(clusters, i, c) {
		size_t h = json_array_size(json_object_get(c, "gateways")) +
		           (json_array_size(json_object_get(c, "services")) + 1) / 2 +
		           2 * json_array_size(json_object_get(c, "workload_entries")) +
		           4;
		if (h > maxh)
			maxh = h;
	}
	W = gap + (double)(nc > 0 ? nc : 1) * (cw + gap);
	if (W < 720)
		W = 720;
	vy = 70 + (double)maxh * 18 + 40;
	H = vy + 90 + 18 * (double)(json_array_size(vms) > 0
	                                    ? json_array_size(vms) : 1) +
	    60;
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	        "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n"
	        "<title>meshvm rehearsal: topology</title>\n"
	        "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
	        W, H, W, H);
	text(fp, &r, gap, 32, 20, "bold", "#202124",
	     "meshvm rehearsal: topology");
	json_array_foreach(clusters, i, c) {
		double x = gap + (double)i * (cw + gap), y = 60;
		double h = (double)maxh * 18 + 20;
		fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		        "height=\"%.1f\" rx=\"8\" fill=\"#e8f0fe\" stroke=\"%s\" "
		        "stroke-width=\"2\"/>\n", x, y, cw, h, palette[0]);
		snprintf(line, sizeof(line), "cluster %s (%s)", jstr(c, "name"),
		         jstr(c, "zone"));
		text(fp, &r, x + 12, y + 24, 15, "bold", "#174ea6", line);
		y += 46;
		json_array_foreach(json_object_get(c, "gateways"), j, v) {
			snprintf(line, sizeof(line), "gateway %s %s", jstr(v, "name"),
			         jstr(v, "ip"));
			text(fp, &r, x + 12, y, 12, "bold", "#e8710a", line);
			y += 18;
		}
		/* a WorkloadEntry's name is long: the address on a line of its
		 * own */
		json_array_foreach(json_object_get(c, "workload_entries"), j, v) {
			snprintf(line, sizeof(line), "WorkloadEntry %s", jstr(v, "name"));
			text(fp, &r, x + 12, y, 11, "bold", "#188038", line);
			snprintf(line, sizeof(line), "%s%s", jstr(v, "address"),
			         json_is_true(json_object_get(v, "healthy")) ? " healthy"
			                                                      : "");
			text(fp, &r, x + 24, y + 16, 11, "normal", "#188038", line);
			y += 34;
		}
		json_array_foreach(json_object_get(c, "services"), j, v) {
			text(fp, &r, x + 12 + (double)(j % 2) * (cw / 2),
			     y + (double)(j / 2) * 18, 12, "normal", "#3c4043",
			     json_string_value(v));
		}
	}
	/* the VMs, and a line from each to every cluster (the mesh) */
	fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
	        "rx=\"8\" fill=\"#fef7e0\" stroke=\"#e37400\" "
	        "stroke-width=\"2\"/>\n", gap, vy, W - 2 * gap,
	        40 + 18 * (double)(json_array_size(vms) > 0 ? json_array_size(vms)
	                                                    : 1));
	text(fp, &r, gap + 12, vy + 24, 15, "bold", "#b06000", "VMs");
	if (json_array_size(vms) == 0)
		text(fp, &r, gap + 12, vy + 44, 12, "normal", "#3c4043",
		     "(none launched)");
	json_array_foreach(vms, j, v) {
		snprintf(line, sizeof(line), "VM %s (%s) %s %s", jstr(v, "name"),
		         jstr(v, "zone"), jstr(v, "ip"), jstr(v, "status"));
		text(fp, &r, gap + 12, vy + 44 + 18 * (double)j, 12, "normal",
		     "#3c4043", line);
	}
	json_array_foreach(clusters, i, c)
		fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"#9aa0a6\" stroke-dasharray=\"4 3\"/>\n",
		        gap + (double)i * (cw + gap) + cw / 2,
		        80 + (double)maxh * 18, W / 2, vy);
	/* the traffic split of the migrating service */
	{
		char acc[512] = "traffic split productcatalogservice: ";
		if (json_array_size(split) == 0)
			strcat(acc, "no VirtualService (no migration ran)");
		json_array_foreach(split, j, v) {
			snprintf(line, sizeof(line), "%s%s %lld%%", j ? " / " : "",
			         jstr(v, "destination"),
			         json_integer_value(json_object_get(v, "weight")));
			if (strlen(acc) + strlen(line) < sizeof(acc))
				strcat(acc, line);
		}
		text(fp, &r, gap, H - 24, 14, "bold", "#202124", acc);
	}
	fprintf(fp, "</svg>\n");
	ring_free(&r);
	return finish(fp, &buf);
}

/* A DOT string: quotes and backslashes escaped, controls dropped. */
static void
dot_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, fp);
	}
	fputc('"', fp);
}

/* A node's id: "cluster/name". */
static const char *
nid(char *buf, size_t n, const char *cluster, const char *name)
{
	snprintf(buf, n, "%s/%s", cluster, name ? name : "");
	return buf;
}

char *
rh_dot_topology(const json_t *topo)
{
	char id[512];
	json_t *c, *v;
	size_t i, j;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL)
		abort();
	fprintf(fp, "digraph meshvm {\n  rankdir=LR;\n  node [shape=box];\n");
	json_array_foreach(json_object_get(topo, "clusters"), i, c) {
		fprintf(fp, "  subgraph cluster_%zu {\n    label=", i);
		dot_str(fp, jstr(c, "name"));
		fprintf(fp, ";\n");
		json_array_foreach(json_object_get(c, "gateways"), j, v) {
			fprintf(fp, "    ");
			dot_str(fp, nid(id, sizeof(id), jstr(c, "name"), jstr(v, "name")));
			fprintf(fp, " [label=");
			dot_str(fp, jstr(v, "name"));
			fprintf(fp, ", shape=diamond];\n");
		}
		json_array_foreach(json_object_get(c, "services"), j, v) {
			fprintf(fp, "    ");
			dot_str(fp, nid(id, sizeof(id), jstr(c, "name"), json_string_value(v)));
			fprintf(fp, " [label=");
			dot_str(fp, json_string_value(v));
			fprintf(fp, "];\n");
		}
		json_array_foreach(json_object_get(c, "workload_entries"), j, v) {
			fprintf(fp, "    ");
			dot_str(fp, nid(id, sizeof(id), jstr(c, "name"), jstr(v, "name")));
			fprintf(fp, " [label=");
			dot_str(fp, jstr(v, "name"));
			fprintf(fp, ", shape=ellipse];\n");
		}
		fprintf(fp, "  }\n");
	}
	json_array_foreach(json_object_get(topo, "vms"), j, v) {
		fprintf(fp, "  ");
		dot_str(fp, jstr(v, "name"));
		fprintf(fp, " [shape=box3d];\n");
		json_array_foreach(json_object_get(topo, "clusters"), i, c) {
			json_t *we;
			size_t k;
			json_array_foreach(json_object_get(c, "workload_entries"), k, we) {
				fprintf(fp, "  ");
				dot_str(fp, jstr(v, "name"));
				fprintf(fp, " -> ");
				dot_str(fp, nid(id, sizeof(id), jstr(c, "name"), jstr(we, "name")));
				fprintf(fp, ";\n");
			}
		}
	}
	json_array_foreach(json_object_get(topo, "split"), j, v) {
		fprintf(fp, "  // traffic split: ");
		dot_str(fp, jstr(v, "destination"));
		fprintf(fp, " %lld%%\n",
		        json_integer_value(json_object_get(v, "weight")));
	}
	fprintf(fp, "}\n");
	return finish(fp, &buf);
}

/* The chart's frame: axes, grid at 0/25/50/75/100%. */
#define CX 70.0
#define CY 60.0
#define CW 600.0
#define CH 240.0

char *
rh_svg_migration(const json_t *mig)
{
	json_t *t = json_object_get(mig, "t"), *d;
	json_t *dests = json_object_get(mig, "destinations");
	size_t n = json_array_size(t), i, k = 0;
	double height = CY + CH + 60 + 18 * (double)json_object_size(dests);
	double tmax = n > 0 ? json_number_value(json_array_get(t, n - 1)) : 0;
	const char *name;
	struct ring r = {0};
	char *buf = NULL, line[256];
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL)
		abort();
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" "
	        "height=\"%.0f\" viewBox=\"0 0 720 %.0f\">\n"
	        "<title>meshvm rehearsal: migration</title>\n"
	        "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
	        height, height);
	text(fp, &r, CX, 28, 18, "bold", "#202124",
	     "migration of productcatalogservice");
	text(fp, &r, CX, 46, 12, "normal", "#5f6368",
	     "share of requests (weight) and success rate per destination");
	for (i = 0; i <= 4; i++) {
		double y = CY + CH - CH * (double)i / 4;
		fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"#dadce0\"/>\n", CX, y, CX + CW, y);
		snprintf(line, sizeof(line), "%zu%%", i * 25);
		text(fp, &r, CX - 44, y + 4, 11, "normal", "#5f6368", line);
	}
	fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
	        "fill=\"none\" stroke=\"#5f6368\"/>\n", CX, CY, CW, CH);
	snprintf(line, sizeof(line), "traffic clock (seconds, %.0f s shown)",
	         tmax);
	text(fp, &r, CX + CW / 2 - 100, CY + CH + 30, 12, "normal", "#5f6368",
	     line);
	if (n < 2 || json_object_size(dests) == 0) {
		text(fp, &r, CX + 40, CY + CH / 2, 14, "bold", "#5f6368",
		     "no traffic flowed (no migration ran)");
		fprintf(fp, "</svg>\n");
		ring_free(&r);
		return finish(fp, &buf);
	}
	json_object_foreach(dests, name, d) {
		const char *col = palette[k % (sizeof(palette) / sizeof(*palette))];
		for (int which = 0; which < 2; which++) {
			json_t *ys = json_object_get(d, which ? "success" : "share");
			bool pen = false;
			fprintf(fp, "<path fill=\"none\" stroke=\"%s\" "
			        "stroke-width=\"%s\"%s d=\"", col, which ? "1.5" : "2.5",
			        which ? " stroke-dasharray=\"6 4\"" : "");
			for (i = 0; i < n; i++) {
				json_t *yv = json_array_get(ys, i);
				double x = CX + CW * (tmax > 0 ? json_number_value(
				                                       json_array_get(t, i)) /
				                                       tmax
				                               : 0);
				if (!json_is_number(yv)) {
					pen = false;
					continue;
				}
				fprintf(fp, "%s%.1f %.1f ", pen ? "L" : "M", x,
				        CY + CH - CH * json_number_value(yv));
				pen = true;
			}
			fprintf(fp, "\"/>\n");
		}
		fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" "
		        "fill=\"%s\"/>\n", CX, CY + CH + 48 + 18 * (double)k, col);
		snprintf(line, sizeof(line), "%s: weight (solid), success rate "
		         "(dashed)", name);
		text(fp, &r, CX + 20, CY + CH + 53 + 18 * (double)k, 11, "normal",
		     "#3c4043", line);
		k++;
	}
	fprintf(fp, "</svg>\n");
	ring_free(&r);
	return finish(fp, &buf);
}
