#!/usr/bin/env python3
"""Rewrites SPV_NV_cooperative_matrix SPIR-V into SPV_KHR_cooperative_matrix.

Debian 12's glslang only compiles GL_NV_cooperative_matrix, while RADV/AMDVLK
offer only VK_KHR_cooperative_matrix (NVIDIA offers both). The two SPIR-V
extensions differ in four ways, all handled here on the binary words:
  - OpTypeCooperativeMatrixKHR carries a Use (MatrixA 0, MatrixB 1,
    Accumulator 2), so a type the NV code uses for both A and B operands of
    OpCooperativeMatrixMulAdd is split: the values that reach operand B get a
    new type of their own;
  - loads and stores take a MemoryLayout id (RowMajor 0, ColumnMajor 1)
    before the stride instead of a column-major bool after it;
  - opcodes, the capability and the extension name change.
Values are followed through OpLoad/OpStore of Function variables, copies,
phis and selects (glslang's output is barely optimised: spirv-opt skips
modules with the NV extension). Anything else on a value that needs the
new type stops the build with a message, never a silently wrong module.

Usage: coopmat_nv_to_khr.py in.spv out.spv.inc   (C initializer, as glslc -mfmt=c)
       coopmat_nv_to_khr.py in.spv out.spv        (binary, when the name ends in .spv)
"""
import struct
import sys

MAGIC = 0x07230203
OP_EXTENSION, OP_CAPABILITY = 10, 17
OP_TYPE_BOOL, OP_TYPE_POINTER = 20, 32
OP_CONSTANT_TRUE, OP_CONSTANT_FALSE, OP_CONSTANT = 41, 42, 43
OP_UNDEF, OP_VARIABLE, OP_LOAD, OP_STORE = 1, 59, 61, 62
OP_ACCESS_CHAIN, OP_IN_BOUNDS_ACCESS_CHAIN = 65, 66
OP_COPY_OBJECT, OP_SELECT, OP_PHI = 83, 169, 245
STORAGE_FUNCTION = 7
# Instructions that cannot take a matrix value but carry literal words, which
# could equal a matrix's id (OpConstant 3400, LocalSize 256): source, names,
# strings, lines, extensions, memory model, entry point, execution mode,
# capability, type declarations (OpTypePointer's storage class 5349,
# PhysicalStorageBuffer, is a literal), constants, decorations, merges and
# switch.
TYPE_OPS = set(range(19, 40))  # OpTypeVoid .. OpTypeForwardPointer
LITERAL_OPS = {3, 5, 6, 7, 8, OP_EXTENSION, 11, 14, 15, 16, OP_CAPABILITY, OP_CONSTANT, 71, 72, 246, 247,
               251} | TYPE_OPS

NV = {'type': 5358, 'load': 5359, 'store': 5360, 'muladd': 5361, 'length': 5362, 'cap': 5357}
KHR = {'type': 4456, 'load': 4457, 'store': 4458, 'muladd': 4459, 'length': 4460, 'cap': 6022}
USE = {'A': 0, 'B': 1, 'C': 2}  # MatrixAKHR, MatrixBKHR, MatrixAccumulatorKHR


class RewriteError(Exception):
    pass


def parse(words):
    if len(words) < 5 or words[0] != MAGIC:
        raise RewriteError('not a SPIR-V module (magic number)')
    insts, i = [], 5
    while i < len(words):
        n = words[i] >> 16
        if n == 0 or i + n > len(words):
            raise RewriteError('truncated instruction at word %d' % i)
        insts.append([words[i] & 0xFFFF] + list(words[i + 1:i + n]))
        i += n
    return list(words[:5]), insts


def encode(header, insts):
    out = list(header)
    for ins in insts:
        out.append((len(ins) << 16) | ins[0])
        out.extend(ins[1:])
    return out


def string_words(s):
    b = s.encode() + b'\0'
    b += b'\0' * (-len(b) % 4)
    return list(struct.unpack('<%dI' % (len(b) // 4), b))


def decode_string(ws):
    b = struct.pack('<%dI' % len(ws), *ws)
    return b.split(b'\0', 1)[0].decode()


class UnionFind:
    def __init__(self):
        self.parent = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b):
        self.parent[self.find(a)] = self.find(b)


class Module:
    def __init__(self, words):
        self.header, self.insts = parse(words)
        self.def_of = {}  # result id -> instruction
        self.type_of = {}  # result id -> result type id (only for the opcodes we follow)
        for ins in self.insts:
            rid = self.result_id(ins)
            if rid is not None:
                self.def_of[rid] = ins
        self.nv_types = {i[1] for i in self.insts if i[0] == NV['type']}
        # Pointer type id -> pointee, for pointers to NV matrix types.
        self.matrix_ptrs = {i[1]: i[3] for i in self.insts if i[0] == OP_TYPE_POINTER and i[3] in self.nv_types}

    @staticmethod
    def result_id(ins):
        op = ins[0]
        if op in (NV['type'], OP_TYPE_POINTER, OP_TYPE_BOOL):
            return ins[1]
        if op in (OP_VARIABLE, OP_LOAD, OP_ACCESS_CHAIN, OP_IN_BOUNDS_ACCESS_CHAIN, OP_COPY_OBJECT, OP_SELECT,
                  OP_PHI, OP_UNDEF, OP_CONSTANT, OP_CONSTANT_TRUE, OP_CONSTANT_FALSE, NV['load'], NV['muladd'],
                  NV['length']):
            return ins[2]
        return None

    def fresh_id(self):
        rid = self.header[3]
        self.header[3] += 1
        return rid


def matrix_type(mod, ins):
    """The NV matrix type of the value or Function variable `ins` defines, else None."""
    if ins[0] == OP_VARIABLE:
        return mod.matrix_ptrs.get(ins[1])
    if len(ins) > 2 and ins[0] in (OP_LOAD, OP_COPY_OBJECT, OP_SELECT, OP_PHI, OP_UNDEF, NV['load'],
                                   NV['muladd']) and ins[1] in mod.nv_types:
        return ins[1]
    if ins[0] in (OP_ACCESS_CHAIN, OP_IN_BOUNDS_ACCESS_CHAIN):
        return mod.matrix_ptrs.get(ins[1])
    return None


def classify(mod):
    """Groups values and variables that must share one type; returns (uf, roles per class)."""
    uf, roles = UnionFind(), {}
    for ins in mod.insts:
        op = ins[0]
        if op == OP_LOAD and ins[1] in mod.nv_types:
            uf.union(ins[2], ins[3])
        elif op == OP_STORE and ins[1] in mod.def_of and matrix_type(mod, mod.def_of[ins[1]]):
            uf.union(ins[1], ins[2])
        elif op == OP_COPY_OBJECT and ins[1] in mod.nv_types:
            uf.union(ins[2], ins[3])
        elif op == OP_SELECT and ins[1] in mod.nv_types:
            uf.union(ins[2], ins[4])
            uf.union(ins[2], ins[5])
        elif op == OP_PHI and ins[1] in mod.nv_types:
            for v in ins[3::2]:
                uf.union(ins[2], v)
        elif op in (OP_ACCESS_CHAIN, OP_IN_BOUNDS_ACCESS_CHAIN) and ins[1] in mod.matrix_ptrs:
            uf.union(ins[2], ins[3])
        elif op == NV['muladd']:
            uf.union(ins[2], ins[5])
            for role, v in (('A', ins[3]), ('B', ins[4]), ('C', ins[5])):
                roles.setdefault(uf.find(v), set()).add(role)
    # Roles were recorded on the class roots of their time; merge them onto the final roots.
    merged = {}
    for root, rs in roles.items():
        merged.setdefault(uf.find(root), set()).update(rs)
    for root, rs in merged.items():
        if len(rs) > 1:
            raise RewriteError('matrix value %%%d is used as operand %s of OpCooperativeMatrixMulAdd: '
                               'KHR needs one Use per type' % (root, ' and '.join(sorted(rs))))
    return uf, {root: next(iter(rs)) for root, rs in merged.items()}


def plan_types(mod, uf, class_role):
    """Primary role per NV type, and the classes that need a type of another role."""
    type_roles, class_type = {}, {}
    for ins in mod.insts:
        rid = mod.result_id(ins)
        t = matrix_type(mod, ins) if rid is not None else None
        if t is None:
            continue
        root = uf.find(rid)
        class_type[root] = t
        if root in class_role:
            type_roles.setdefault(t, set()).add(class_role[root])
    primary = {}
    for t in mod.nv_types:
        rs = type_roles.get(t, set())
        primary[t] = next((r for r in 'ACB' if r in rs), 'C')
    moved = {root: role for root, role in class_role.items() if role != primary[class_type[root]]}
    return primary, moved, class_type


def check_movable(mod, uf, moved):
    """Every member of a class that changes type must be an instruction whose type we can change."""
    for ins in mod.insts:
        rid = mod.result_id(ins)
        if rid is None or uf.find(rid) not in moved or rid not in uf.parent:
            continue
        ok = ins[0] in (OP_LOAD, OP_COPY_OBJECT, OP_SELECT, OP_PHI, OP_UNDEF, NV['load'])
        ok = ok or (ins[0] == OP_VARIABLE and ins[3] == STORAGE_FUNCTION and len(ins) == 4)
        if not ok:
            raise RewriteError('matrix %%%d needs Use %s but is defined by opcode %d, which this rewriter '
                               'cannot retype' % (rid, moved[uf.find(rid)], ins[0]))
    # Operands of unknown instructions that touch a moved value would keep the old type.
    known = {OP_VARIABLE, OP_UNDEF, OP_LOAD, OP_STORE, OP_COPY_OBJECT, OP_SELECT, OP_PHI, NV['load'], NV['store'],
             NV['muladd']}
    moved_ids = {x for x in uf.parent if uf.find(x) in moved}
    for ins in mod.insts:
        if ins[0] in known or ins[0] in LITERAL_OPS:
            continue
        hit = moved_ids.intersection(ins[1:])
        if hit:
            raise RewriteError('matrix %%%d (Use B) is used by opcode %d, which this rewriter does not '
                               'understand' % (min(hit), ins[0]))


def bool_value(mod, cid):
    ins = mod.def_of.get(cid)
    if ins is None or ins[0] not in (OP_CONSTANT_TRUE, OP_CONSTANT_FALSE):
        raise RewriteError('column-major operand %%%d is not a constant true/false' % cid)
    return 1 if ins[0] == OP_CONSTANT_TRUE else 0


def rewrite(words):
    mod = Module(words)
    if not mod.nv_types:
        raise RewriteError('no OpTypeCooperativeMatrixNV in the module: nothing to rewrite')
    uf, class_role = classify(mod)
    primary, moved, class_type = plan_types(mod, uf, class_role)
    check_movable(mod, uf, moved)

    first_type = next(i for i in mod.insts if i[0] == NV['type'])
    int_type = mod.def_of.get(first_type[3], [0, 0])[1]  # the scope constant's integer type
    consts = {v: mod.fresh_id() for v in (0, 1, 2)}  # Use and MemoryLayout values
    extra_type, extra_ptr = {}, {}  # (NV type, role) -> new type / Function pointer id
    for root, role in moved.items():
        key = (class_type[root], role)
        if key not in extra_type:
            extra_type[key] = mod.fresh_id()
            extra_ptr[key] = mod.fresh_id()

    out = []
    for ins in mod.insts:
        op = ins[0]
        if ins is first_type:
            out += [[OP_CONSTANT, int_type, cid, v] for v, cid in consts.items()]
        if op == OP_CAPABILITY and ins[1] == NV['cap']:
            out.append([OP_CAPABILITY, KHR['cap']])
        elif op == OP_EXTENSION and decode_string(ins[1:]) == 'SPV_NV_cooperative_matrix':
            out.append([OP_EXTENSION] + string_words('SPV_KHR_cooperative_matrix'))
        elif op == NV['type']:
            t = ins[1]
            out.append([KHR['type']] + ins[1:6] + [consts[USE[primary[t]]]])
            for (nt, role), new in extra_type.items():
                if nt == t:
                    out.append([KHR['type'], new] + ins[2:6] + [consts[USE[role]]])
                    out.append([OP_TYPE_POINTER, extra_ptr[(nt, role)], STORAGE_FUNCTION, new])
        else:
            ins = list(ins)
            rid = mod.result_id(ins)
            if rid is not None and rid in uf.parent and uf.find(rid) in moved:
                key = (class_type[uf.find(rid)], moved[uf.find(rid)])
                ins[1] = extra_ptr[key] if op == OP_VARIABLE else extra_type[key]
            if op == NV['load']:  # type, result, pointer, stride, column-major, [memory access]
                ins = [KHR['load'], ins[1], ins[2], ins[3], consts[bool_value(mod, ins[5])], ins[4]] + ins[6:]
            elif op == NV['store']:  # pointer, object, stride, column-major, [memory access]
                ins = [KHR['store'], ins[1], ins[2], consts[bool_value(mod, ins[4])], ins[3]] + ins[5:]
            elif op == NV['muladd']:
                ins[0] = KHR['muladd']
            elif op == NV['length']:
                ins[0] = KHR['length']
            out.append(ins)
    return encode(mod.header, out)


def read_words(path):
    data = open(path, 'rb').read()
    if len(data) % 4:
        raise RewriteError('%s: size is not a multiple of 4' % path)
    return list(struct.unpack('<%dI' % (len(data) // 4), data))


def c_initializer(words):
    lines = [','.join('0x%08x' % w for w in words[i:i + 4]) for i in range(0, len(words), 4)]
    return '{' + ',\n'.join(lines) + '}\n'


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    try:
        words = rewrite(read_words(argv[1]))
    except RewriteError as e:
        sys.stderr.write('coopmat_nv_to_khr: %s: %s\n' % (argv[1], e))
        return 1
    if argv[2].endswith('.spv'):
        open(argv[2], 'wb').write(struct.pack('<%dI' % len(words), *words))
    else:
        open(argv[2], 'w').write(c_initializer(words))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
