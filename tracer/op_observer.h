#pragma once
// Attributes allocations to the module and operator that caused them, from LibTorch's RecordFunction:
// - user scopes named by module path (models open one per module call) set the module;
// - outside backward, every operator sets the op, and a forward op remembers its module under its autograd
//   sequence number;
// - in backward, the autograd node being evaluated is the op (`ConvolutionBackward0`), and its sequence
//   number leads back to the module whose forward created it. Operators are not observed there: that would
//   cost more than the rest of the tracer together.

namespace trainmem {

void install_op_observer();    // idempotent
void uninstall_op_observer();
// Drops what earlier sessions left in the sequence-number map (graphs never run backward).
void forget_forward_ops();

}  // namespace trainmem
