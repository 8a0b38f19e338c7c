#!/usr/bin/env python3
"""Checks the build's KHR cooperative-matrix SPIR-V without a GPU.

Debian 12's spirv-val does not know SPV_KHR_cooperative_matrix, so this test
parses the embedded words itself (the generated *.spv.inc C initializers) and
checks what the rewriter promises: no NV cooperative-matrix opcode,
capability or extension left; every OpTypeCooperativeMatrixKHR has a Use
that is a constant 0..2; every OpCooperativeMatrixMulAddKHR takes A, B and C
of distinct types with Uses 0, 1 and 2 and returns C's type; every load and
store has a constant MemoryLayout of 0 or 1; ids stay under the bound.
It also feeds the rewriter a shader whose matrix is both operand A and B and
expects a loud failure.

Usage: check_coopmat_spirv.py REWRITER GLSLC WORKDIR FILE.spv.inc...
"""
import os
import re
import subprocess
import sys

NV_OPS = {5357: 'CapabilityCooperativeMatrixNV', 5358: 'OpTypeCooperativeMatrixNV',
          5359: 'OpCooperativeMatrixLoadNV', 5360: 'OpCooperativeMatrixStoreNV',
          5361: 'OpCooperativeMatrixMulAddNV', 5362: 'OpCooperativeMatrixLengthNV'}
OP_EXTENSION, OP_CAPABILITY, OP_CONSTANT = 10, 17, 43
TYPE_KHR, LOAD_KHR, STORE_KHR, MULADD_KHR, CAP_KHR = 4456, 4457, 4458, 4459, 6022


def words_of_inc(path):
    return [int(h, 16) for h in re.findall(r'0x([0-9a-fA-F]{8})', open(path).read())]


def instructions(words):
    assert words[0] == 0x07230203, 'bad magic'
    i = 5
    while i < len(words):
        n = words[i] >> 16
        assert n > 0 and i + n <= len(words), 'truncated instruction at word %d' % i
        yield words[i] & 0xFFFF, words[i + 1:i + n]
        i += n


def string_of(ops):
    b = b''.join(w.to_bytes(4, 'little') for w in ops)
    return b.split(b'\0', 1)[0].decode()


def check_module(name, words):
    errors = []
    bound = words[3]
    consts, kinds, result_type = {}, {}, {}
    caps, exts, muladds, layouts = set(), set(), [], []
    for op, ops in instructions(words):
        if op in NV_OPS:
            errors.append('%s left in the module' % NV_OPS[op])
        if op == OP_CAPABILITY:
            caps.add(ops[0])
            if ops[0] == 5357:
                errors.append('CooperativeMatrixNV capability left in the module')
        elif op == OP_EXTENSION:
            exts.add(string_of(ops))
        elif op == OP_CONSTANT and len(ops) == 3:
            consts[ops[1]] = ops[2]
        elif op == TYPE_KHR:
            if len(ops) != 6:
                errors.append('OpTypeCooperativeMatrixKHR %%%d has %d operands, not 6' % (ops[0], len(ops)))
                continue
            if ops[5] not in consts:
                errors.append('type %%%d: Use %%%d is not a constant defined before it' % (ops[0], ops[5]))
            elif consts[ops[5]] > 2:
                errors.append('type %%%d: Use %d is not A/B/Accumulator' % (ops[0], consts[ops[5]]))
            kinds[ops[0]] = consts.get(ops[5])
        elif op in (LOAD_KHR, MULADD_KHR):
            result_type[ops[1]] = ops[0]
        if op == MULADD_KHR:
            muladds.append(ops)
        elif op == LOAD_KHR:
            layouts.append(ops[3])
        elif op == STORE_KHR:
            layouts.append(ops[2])
        if op not in (OP_EXTENSION, 5, 6, 7, 8, 11) and op != OP_CONSTANT:
            big = [w for w in ops if w >= bound and op in (TYPE_KHR, LOAD_KHR, STORE_KHR, MULADD_KHR)]
            if big:
                errors.append('opcode %d uses id %d at or above the bound %d' % (op, big[0], bound))
    if CAP_KHR not in caps:
        errors.append('no CooperativeMatrixKHR capability')
    if 'SPV_KHR_cooperative_matrix' not in exts or 'SPV_NV_cooperative_matrix' in exts:
        errors.append('extensions are %s' % sorted(exts))
    if not muladds:
        errors.append('no OpCooperativeMatrixMulAddKHR')
    # Values reach MulAdd straight from loads or through Function variables, so
    # an operand's type is looked up through its defining load where there is one.
    type_of = dict(result_type)
    for op, ops in instructions(words):
        if op == 61:  # OpLoad
            type_of[ops[1]] = ops[0]
    for ops in muladds:
        rtype, a, b, c = ops[0], ops[2], ops[3], ops[4]
        uses = [kinds.get(type_of.get(v)) for v in (a, b, c)]
        if uses != [0, 1, 2]:
            errors.append('MulAdd %%%d: operand Uses are %s, not [0, 1, 2]' % (ops[1], uses))
        if len({type_of.get(a), type_of.get(b), type_of.get(c)}) != 3:
            errors.append('MulAdd %%%d: A, B and C types are not distinct' % ops[1])
        if rtype != type_of.get(c):
            errors.append('MulAdd %%%d: result type differs from C' % ops[1])
    for lay in layouts:
        if consts.get(lay) not in (0, 1):
            errors.append('load/store MemoryLayout %%%d is not a constant 0 or 1' % lay)
    for e in errors:
        print('%s: %s' % (name, e))
    return not errors, len(muladds)


NEGATIVE_SHADER = """#version 450
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x = 32) in;
shared float16_t a_sh[256];
shared float c_sh[256];
void main() {
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a;
  coopMatLoadNV(a, a_sh, 0, 16, false);
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> c = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
  c = coopMatMulAddNV(a, a, c);  // one value as A and B: no single KHR Use fits
  coopMatStoreNV(c, c_sh, 0, 16, false);
}
"""


def check_rejects_ambiguous_use(rewriter, glslc, workdir):
    src, spv = os.path.join(workdir, 'ambiguous.comp'), os.path.join(workdir, 'ambiguous.spv')
    open(src, 'w').write(NEGATIVE_SHADER)
    subprocess.run([glslc, '--target-env=vulkan1.2', src, '-o', spv], check=True)
    r = subprocess.run([sys.executable, rewriter, spv, os.path.join(workdir, 'ambiguous.inc')],
                       capture_output=True, text=True)
    if r.returncode == 0 or 'A and B' not in r.stderr:
        print('rewriter accepted a matrix used as both A and B (rc %d, %s)' % (r.returncode, r.stderr.strip()))
        return False
    return True


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    rewriter, glslc, workdir, files = argv[1], argv[2], argv[3], argv[4:]
    os.makedirs(workdir, exist_ok=True)
    ok = True
    for path in files:
        good, n = check_module(os.path.basename(path), words_of_inc(path))
        ok = ok and good
        print('%s: %d MulAdd checked, %s' % (os.path.basename(path), n, 'ok' if good else 'FAILED'))
    ok = check_rejects_ambiguous_use(rewriter, glslc, workdir) and ok
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
