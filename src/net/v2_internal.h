/* net/v2 (private): what v2.c, v2_parse.c and v2_encode.c share. Not part
 * of the public API (net/v2.h); names carry a net_v2__ prefix. */
#ifndef CLEAVE_NET_V2_INTERNAL_H
#define CLEAVE_NET_V2_INTERNAL_H

#include "net/v2.h"

/* The wire is little-endian; tensors are sent and read as host bytes. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "net/v2 assumes a little-endian host"
#endif

#define V2_ID_MAX ((int)sizeof(((net_v2_request *)0)->id))

/* Integer dtypes: width in bits and signedness; 0 for the others. */
int net_v2__int_bits(cv_dtype t, int *is_signed);

#endif
