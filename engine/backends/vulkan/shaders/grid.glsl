// Include after the local_size layout (gl_WorkGroupSize is (1,1,1) before it).
// Workgroup index over a 2-D dispatch (the host splits large counts into
// rows of at most 65535 workgroups, the smallest limit Vulkan allows).
uint linear_workgroup() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }
uint linear_invocation() { return linear_workgroup() * gl_WorkGroupSize.x + gl_LocalInvocationID.x; }
