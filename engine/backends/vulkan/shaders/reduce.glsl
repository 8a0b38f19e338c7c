// Workgroup-wide reductions: subgroup operations first, then one value per
// subgroup through shared memory. Needs WG_SIZE; every invocation must call.
shared float reduce_scratch[WG_SIZE];

float wg_sum(float v) {
  v = subgroupAdd(v);
  if (subgroupElect()) reduce_scratch[gl_SubgroupID] = v;
  barrier();
  float s = 0.0;
  for (uint i = 0u; i < gl_NumSubgroups; ++i) s += reduce_scratch[i];
  barrier();
  return s;
}

float wg_max(float v) {
  v = subgroupMax(v);
  if (subgroupElect()) reduce_scratch[gl_SubgroupID] = v;
  barrier();
  float m = reduce_scratch[0];
  for (uint i = 1u; i < gl_NumSubgroups; ++i) m = max(m, reduce_scratch[i]);
  barrier();
  return m;
}
