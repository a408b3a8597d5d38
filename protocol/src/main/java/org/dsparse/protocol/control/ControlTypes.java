package org.dsparse.protocol.control;

import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The classes a control message of one type may contain: its registration list, derived from the
 * type itself. A record's components are followed through their declared generic types (so a
 * {@code List<GroupPlan>} admits {@code GroupPlan} and what it holds), a sealed type admits its
 * permitted subtypes, an enum itself, an array its component; a collection, map or optional declared
 * in a component admits the JDK's own implementations of it (those {@code List.of}, {@code new
 * ArrayList<>()} or {@code Collections.unmodifiableList} make) and nothing else. A field declared as
 * {@code Object} or an open interface admits no class beyond itself: nothing arriving can name a
 * class its message type does not declare, so a forged frame cannot make a node instantiate a class
 * of its choosing, and a message type that would need one fails on its sender first.
 */
public final class ControlTypes {
  private static final Map<Class<?>, Set<Class<?>>> CLOSURES = new ConcurrentHashMap<>();

  /** Always admitted: Kryo names the boxed type of a primitive component too. */
  private static final Set<Class<?>> VALUES = Set.of(String.class, Boolean.class, Byte.class, Short.class,
      Character.class, Integer.class, Long.class, Float.class, Double.class, java.time.Duration.class,
      java.time.Instant.class);

  /** What {@code List.of}, {@code Arrays.asList}, the collections' wrappers and constructors make. */
  private static final List<Class<?>> LISTS = classes(List.of(1, 2, 3), List.of(1), List.of(),
      new ArrayList<>(), new java.util.LinkedList<>(), Arrays.asList(1, 2), Collections.emptyList(),
      Collections.singletonList(1), Collections.unmodifiableList(new ArrayList<>()),
      Collections.unmodifiableList(new java.util.LinkedList<>()), List.of(1, 2, 3).subList(0, 1),
      new ArrayList<>(List.of(1, 2)).subList(0, 1), List.of(1, 2, 3).stream().toList());
  private static final List<Class<?>> SETS = classes(Set.of(1, 2, 3), Set.of(1), Set.of(), new HashSet<>(),
      new java.util.LinkedHashSet<>(), new java.util.TreeSet<>(), Collections.emptySet(), Collections.singleton(1),
      Collections.unmodifiableSet(new HashSet<>()));
  private static final List<Class<?>> MAPS = classes(Map.of(1, 1, 2, 2), Map.of(1, 1), Map.of(),
      new java.util.HashMap<>(), new LinkedHashMap<>(), new java.util.TreeMap<>(), Collections.emptyMap(),
      Collections.singletonMap(1, 1), Collections.unmodifiableMap(new java.util.HashMap<>()));

  private ControlTypes() {}

  /** Whether a {@code root} message may contain a {@code type}. */
  static boolean admits(Class<?> root, Class<?> type) {
    return type.isPrimitive() || VALUES.contains(type) || ActorRef.class.isAssignableFrom(type)
        || CLOSURES.computeIfAbsent(root, ControlTypes::closure).contains(type);
  }

  /**
   * The declared types in a {@code root} message that admit no concrete class: {@code Object}, open
   * interfaces and abstract classes. A value of such a declared type cannot travel (its class is not
   * admitted), so a message type should have none; the build checks every one.
   */
  public static List<Class<?>> openTypes(Class<?> root) {
    return CLOSURES.computeIfAbsent(root, ControlTypes::closure).stream()
        .filter(c -> !c.isPrimitive() && !c.isArray() && !c.isEnum() && !c.isSealed() && !VALUES.contains(c)
            && !Collection.class.isAssignableFrom(c) && !Map.class.isAssignableFrom(c) && c != Optional.class
            && (c == Object.class || c.isInterface() || Modifier.isAbstract(c.getModifiers())))
        .filter(c -> c != root)
        .sorted(java.util.Comparator.comparing(Class::getName))
        .toList();
  }

  private static Set<Class<?>> closure(Class<?> root) {
    Set<Class<?>> seen = new HashSet<>();
    visit(root, seen);
    return Set.copyOf(seen);
  }

  private static void visit(Type type, Set<Class<?>> seen) {
    if (type instanceof ParameterizedType parameterized) {
      visit(parameterized.getRawType(), seen);
      for (Type argument : parameterized.getActualTypeArguments()) {
        visit(argument, seen);
      }
    } else if (type instanceof GenericArrayType array) {
      visit(array.getGenericComponentType(), seen);
    } else if (type instanceof WildcardType wildcard) {
      Arrays.stream(wildcard.getUpperBounds()).forEach(bound -> visit(bound, seen));
    } else if (type instanceof TypeVariable<?> variable) {
      Arrays.stream(variable.getBounds()).forEach(bound -> visit(bound, seen));
    } else if (type instanceof Class<?> c) {
      visitClass(c, seen);
    }
  }

  private static void visitClass(Class<?> c, Set<Class<?>> seen) {
    if (c.isPrimitive() || ActorRef.class.isAssignableFrom(c) || !seen.add(c)) {
      return;
    }
    if (c.isArray()) {
      visit(c.getComponentType(), seen);
    } else if (VALUES.contains(c) || c.isEnum() || c == Object.class) {
      return;
    } else if (List.class.isAssignableFrom(c) || c == Collection.class) {
      seen.addAll(LISTS);
    } else if (Set.class.isAssignableFrom(c)) {
      seen.addAll(SETS);
    } else if (Map.class.isAssignableFrom(c)) {
      seen.addAll(MAPS);
    } else if (c == Optional.class) {
      return;
    } else if (c.isRecord()) {
      for (RecordComponent component : c.getRecordComponents()) {
        visit(component.getGenericType(), seen);
      }
    } else if (c.isSealed()) {
      Arrays.stream(c.getPermittedSubclasses()).forEach(sub -> visitClass(sub, seen));
    } else if (!c.isInterface() && c.getName().startsWith("org.dsparse.")) {
      // A plain dsparse class, written field by field.
      for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
        for (Field field : k.getDeclaredFields()) {
          if (!Modifier.isStatic(field.getModifiers()) && !Modifier.isTransient(field.getModifiers())) {
            visit(field.getGenericType(), seen);
          }
        }
      }
    }
  }

  private static List<Class<?>> classes(Object... examples) {
    return Arrays.stream(examples).<Class<?>>map(Object::getClass).distinct().toList();
  }
}
