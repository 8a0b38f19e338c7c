// Non-linear 4-bit code book of IQ4_NL and IQ4_XS.
const float kIq4Values[16] = float[16](-127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0,
                                       1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0);
vec4 iq4_lookup(uint q) {
  return vec4(kIq4Values[q & 15u], kIq4Values[(q >> 8) & 15u], kIq4Values[(q >> 16) & 15u],
              kIq4Values[(q >> 24) & 15u]);
}
