# embed_file.cmake — cmake -DIN=FILE -DOUT=FILE.c -DNAME=sym -P embed_file.cmake: writes a C file defining
# `const char NAME[]` (FILE's bytes, then a NUL) and `const size_t NAME_len`, so a file such as the status
# page stays editable as itself and needs nothing at run time.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN} by core/embed_file.cmake */\n#include <stddef.h>\n"
  "const char ${NAME}[] = {${bytes}0};\nconst size_t ${NAME}_len = ${len};\n")
