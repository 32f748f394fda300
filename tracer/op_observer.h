#pragma once
// Attributes allocations to the module and operator that caused them, from LibTorch's RecordFunction:
// - user scopes named by module path (models open one per module call) set the module in forward;
// - every operator sets the op; a forward op also remembers its module under its autograd sequence number;
// - in backward, an autograd node's sequence number leads back to the module whose forward created it.

namespace trainmem {

void install_op_observer();    // idempotent
void uninstall_op_observer();
// Drops what earlier sessions left in the sequence-number map (graphs never run backward).
void forget_forward_ops();

}  // namespace trainmem
