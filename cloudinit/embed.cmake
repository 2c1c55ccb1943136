# embed.cmake - turn a text file into a C function returning its bytes.
#   cmake -DIN=join.sh -DOUT=join_script.c -DFUNC=cloudinit_join_script -P embed.cmake
# No xxd: file(READ ... HEX) and a regex make the byte list.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR n "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes per line
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n\t" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
"/* Generated from ${IN} by cloudinit/embed.cmake; do not edit. */\n"
"#include <stddef.h>\n\n"
"static const unsigned char data[${n} + 1] = {\n\t${bytes}0x00};\n\n"
"const char *${FUNC}(size_t *len);\n\n"
"const char *\n${FUNC}(size_t *len)\n{\n"
"\tif (len != NULL)\n\t\t*len = ${n};\n"
"\treturn (const char *)data;\n}\n")
file(RENAME "${OUT}.tmp" "${OUT}")
