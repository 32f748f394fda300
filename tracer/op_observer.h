#pragma once
// Attributes allocations to the module and operator that caused them.
// - Outside backward, from LibTorch's RecordFunction: user scopes named by module path (models open one per
//   module call) set the module; every operator sets the op, and a forward op remembers its module under its
//   autograd sequence number.
// - In backward, RecordFunction is off on the loop's thread (with it on, every operator and every autograd
//   node builds a RecordFunction, and each node its name as a string: most of the tracer's cost). The
//   allocators ask the autograd engine which node is running instead: the node is the op, and its sequence
//   number leads back to the module whose forward created it.

namespace trainmem {

void install_op_observer();    // idempotent
void uninstall_op_observer();
// Drops what earlier sessions left in the sequence-number map (graphs never run backward).
void forget_forward_ops();
// Sets the calling thread's module and op from the autograd node it is evaluating, if any (allocators call
// it in backward, before recording an event). The engine marks a node running for all its work on it, adding
// up its gradients for the next nodes included; outside nodes the context stays as it was.
void attribute_to_running_node();

}  // namespace trainmem
