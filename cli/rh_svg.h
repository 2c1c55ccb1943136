/* cli/rh_svg.h - the rehearsal's pictures, written by meshvm itself
 * (no Graphviz): the topology as SVG and as DOT, the migration as an SVG
 * chart.  Inputs are rh_report_topology / rh_report_migration documents;
 * every name is XML- (or DOT-) escaped.  Results are malloc'd. */
#ifndef MESHVM_CLI_RH_SVG_H
#define MESHVM_CLI_RH_SVG_H

#include <jansson.h>

char *rh_svg_topology(const json_t *topology);
char *rh_dot_topology(const json_t *topology);
char *rh_svg_migration(const json_t *migration);

#endif
