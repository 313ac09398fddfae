//! Shapes and how to measure them.

cfg_shapes! {
    /// Something with an area.
    pub trait Shape {
        /// The area of the shape.
        fn area(&self) -> f64;

        /// Twice the area.
        fn double_area(&self) -> f64 {
            2.0 * self.area()
        }
    }
}

/// Kinds of shape.
pub enum Kind {
    /// Round.
    Circle,
    /// Four corners.
    Square,
}

/// A type alias.
pub type Area = f64;
