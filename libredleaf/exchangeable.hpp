// Exchangeable<T>: the types that may cross a domain boundary.
//
// A value that crosses must not point into the sender's private heap, or the
// receiver would hold a dangling pointer once the sender dies.  So only
// self-contained values cross: arithmetic types, enums, std::array of
// exchangeable, aggregates whose every field is exchangeable (reflected with
// Boost.PFR), and the RRef family, whose payload lives in the shared heap.
//
// `Exchangeable<T>` is a plain concept (usable in requires-clauses).
// `rl::detail::require_exchangeable<T>()` is what RRef and the proxies call:
// it fails compilation with a message naming the type, the field index and
// the field's type, and says what to use instead.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include <boost/pfr/core.hpp>

namespace rl {

template <class T> class RRef;
template <class T, std::size_t N> class RRefArray;
template <class T, std::size_t N> class RRefDeque;
template <class Interface> class Cap;

namespace detail {

template <class T> struct is_rref_family : std::false_type {};
template <class T> struct is_rref_family<RRef<T>> : std::true_type {};
template <class T, std::size_t N> struct is_rref_family<RRefArray<T, N>> : std::true_type {};
template <class T, std::size_t N> struct is_rref_family<RRefDeque<T, N>> : std::true_type {};
template <class I> struct is_rref_family<Cap<I>> : std::true_type {};   // interface references

// RRefDeque's ring is checked through its element type, not reflected:
// Boost.PFR on an aggregate holding std::array<RRef<T>, N> crashes GCC 12
// (internal compiler error in check_noexcept_r).
template <class T, std::size_t N> struct DequeRing;
template <class T> struct is_deque_ring : std::false_type {};
template <class T, std::size_t N> struct is_deque_ring<DequeRing<T, N>> : std::true_type {};

template <class T> struct is_std_array : std::false_type {};
template <class T, std::size_t N> struct is_std_array<std::array<T, N>> : std::true_type {};

template <class T>
concept owns_heap_memory = requires { typename T::allocator_type; };

// Counting an aggregate's members with one braced initializer per member.
// Boost.PFR counts with unbraced initializers, where brace elision spreads a
// C array member over several "fields"; the two counts differ exactly when the
// aggregate holds a C array.
struct any_field {
  template <class U> constexpr operator U() const&& noexcept;
};
template <std::size_t> using any_field_t = any_field;

template <class T, std::size_t... I>
constexpr bool braced_init_with(std::index_sequence<I...>) {
  return requires { T{{any_field_t<I>{}}...}; };
}
template <class T, std::size_t N = 0>
constexpr std::size_t braced_member_count() {
  if constexpr (N >= 64) return N;
  else if constexpr (!braced_init_with<T>(std::make_index_sequence<N + 1>{})) return N;
  else return braced_member_count<T, N + 1>();
}

enum class Reason {
  ok, reference, pointer, union_type, polymorphic, c_array, heap_owning,
  not_aggregate, const_or_reference_member, bad_field,
};

template <class T> constexpr Reason why_not_exchangeable();

template <class T, std::size_t... I>
constexpr std::size_t first_bad_field(std::index_sequence<I...>) {
  std::size_t bad = sizeof...(I);
  ((why_not_exchangeable<boost::pfr::tuple_element_t<I, T>>() != Reason::ok && bad == sizeof...(I)
        ? (bad = I, 0) : 0), ...);
  return bad;
}

template <class T>
constexpr Reason why_not_exchangeable() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_reference_v<T>) return Reason::reference;
  else if constexpr (std::is_pointer_v<U> || std::is_member_pointer_v<U>) return Reason::pointer;
  else if constexpr (std::is_array_v<U>) return Reason::c_array;
  else if constexpr (std::is_arithmetic_v<U> || std::is_enum_v<U>) return Reason::ok;
  else if constexpr (is_rref_family<U>::value) return Reason::ok;
  else if constexpr (std::is_union_v<U>) return Reason::union_type;
  else if constexpr (std::is_polymorphic_v<U>) return Reason::polymorphic;
  else if constexpr (is_std_array<U>::value || is_deque_ring<U>::value)
    return why_not_exchangeable<typename U::value_type>() == Reason::ok ? Reason::ok : Reason::bad_field;
  else if constexpr (owns_heap_memory<U>) return Reason::heap_owning;
  else if constexpr (!std::is_class_v<U> || !std::is_aggregate_v<U>) return Reason::not_aggregate;
  else if constexpr (!std::is_move_assignable_v<U>) return Reason::const_or_reference_member;
  else if constexpr (braced_member_count<U>() != boost::pfr::tuple_size_v<U>) return Reason::c_array;
  else if constexpr (first_bad_field<U>(std::make_index_sequence<boost::pfr::tuple_size_v<U>>{}) !=
                     boost::pfr::tuple_size_v<U>)
    return Reason::bad_field;
  else return Reason::ok;
}

}  // namespace detail

template <class T>
concept Exchangeable = detail::why_not_exchangeable<T>() == detail::Reason::ok;

namespace detail {

// One template per reason, so the compiler's "In instantiation of ..." line
// reads like the diagnosis: <the struct, the field's index, the field's type>.
// Index `whole_type` means T itself was passed across, not one of its fields.
inline constexpr int whole_type = -1;
template <class> inline constexpr bool always_false = false;

template <class Struct, int FieldIndex, class Field>
struct raw_pointer_cannot_cross_domains {
  static_assert(always_false<Field>,
                "redleaf: a raw pointer cannot cross a domain boundary (it would dangle when its "
                "domain dies). Put the object in the shared heap and pass RRef<T>, or pass an index.");
};
template <class Struct, int FieldIndex, class Field>
struct reference_cannot_cross_domains {
  static_assert(always_false<Field>,
                "redleaf: a reference cannot cross a domain boundary. Pass the value itself, an "
                "RRef<T> (ownership moves) or a `const RRef<T>&` parameter (an immutable borrow).");
};
template <class Struct, int FieldIndex, class Field>
struct heap_owning_type_cannot_cross_domains {
  static_assert(always_false<Field>,
                "redleaf: std::string and standard containers own memory in the sender's private "
                "heap. Use std::array<char, N> / std::array<T, N>, RRefArray<T, N> or RRefDeque<T, N>.");
};
template <class Struct, int FieldIndex, class Field>
struct union_cannot_cross_domains {
  static_assert(always_false<Field>,
                "redleaf: a union cannot be checked field by field. Use a tag enum plus a "
                "std::array<uint8_t, N> payload, or a struct with one field per alternative.");
};
template <class Struct, int FieldIndex, class Field>
struct polymorphic_type_cannot_cross_domains {
  static_assert(always_false<Field>,
                "redleaf: a polymorphic type carries a vtable pointer into its domain's code. "
                "Pass plain data; to pass behaviour, pass an interface reference (IDL).");
};
template <class Struct, int FieldIndex, class Field>
struct c_array_cannot_cross_domains {
  static_assert(always_false<Field>,
                "redleaf: a C array inside a crossing aggregate cannot be reflected field by "
                "field. Use std::array<T, N> instead of T[N].");
};
template <class Struct, int FieldIndex, class Field>
struct const_or_reference_member_cannot_cross_domains {
  static_assert(always_false<Field>,
                "redleaf: this aggregate has a reference or const member, so it cannot be "
                "moved into the shared heap. Store values (non-const) instead.");
};
template <class Struct, int FieldIndex, class Field>
struct not_an_aggregate_cannot_cross_domains {
  static_assert(always_false<Field>,
                "redleaf: only arithmetic types, enums, std::array, the RRef family and "
                "aggregates of those cross domains; this class has constructors or private "
                "members, so its fields cannot be checked. Make it a plain aggregate.");
};

template <class Struct, int Index, class T>
constexpr bool explain() {
  using U = std::remove_cv_t<T>;
  constexpr Reason r = why_not_exchangeable<T>();
  if constexpr (r == Reason::ok) return true;
  else if constexpr (r == Reason::reference) return sizeof(reference_cannot_cross_domains<Struct, Index, T>) > 0;
  else if constexpr (r == Reason::pointer) return sizeof(raw_pointer_cannot_cross_domains<Struct, Index, T>) > 0;
  else if constexpr (r == Reason::union_type) return sizeof(union_cannot_cross_domains<Struct, Index, T>) > 0;
  else if constexpr (r == Reason::polymorphic) return sizeof(polymorphic_type_cannot_cross_domains<Struct, Index, T>) > 0;
  else if constexpr (r == Reason::c_array) return sizeof(c_array_cannot_cross_domains<Struct, Index, T>) > 0;
  else if constexpr (r == Reason::heap_owning) return sizeof(heap_owning_type_cannot_cross_domains<Struct, Index, T>) > 0;
  else if constexpr (r == Reason::not_aggregate) return sizeof(not_an_aggregate_cannot_cross_domains<Struct, Index, T>) > 0;
  else if constexpr (r == Reason::const_or_reference_member)
    return sizeof(const_or_reference_member_cannot_cross_domains<Struct, Index, T>) > 0;
  else if constexpr (is_std_array<U>::value || is_deque_ring<U>::value)
    return explain<U, 0, typename U::value_type>();
  else {  // bad_field: descend into the first offending field
    constexpr std::size_t i =
        first_bad_field<U>(std::make_index_sequence<boost::pfr::tuple_size_v<U>>{});
    return explain<U, static_cast<int>(i), boost::pfr::tuple_element_t<i, U>>();
  }
}

// Called where a type crosses (RRef<T>, proxies): fails with the diagnosis.
template <class T>
constexpr bool require_exchangeable() {
  return explain<T, whole_type, T>();
}

}  // namespace detail
}  // namespace rl
