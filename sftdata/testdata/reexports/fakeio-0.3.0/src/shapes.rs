//! Shapes.

/// Something with an area.
pub trait Shape {
    /// The area of the shape.
    fn area(&self) -> f64;

    /// Twice the area.
    fn double_area(&self) -> f64 {
        2.0 * self.area()
    }
}

/// Kinds of shape.
pub enum Kind {
    /// Round.
    Circle,
    /// Four corners.
    Square,
}

/// An area in square metres.
pub type Area = f64;

/// The perimeter of a square.
pub fn perimeter(side: f64) -> f64 {
    4.0 * side
}
